/**
 * Listener sets: how every engine component announces what happened (a guestinfo change, a TCLO result, a traced
 * access, a mouse packet), so that a front end, the run report, a control socket and tests can all listen at once
 * without wrapping each other's hooks.
 *
 * Emulates: nothing. Semantics, as a DOM `EventTarget` has them rather than Node's `EventEmitter`: a listener is
 * added once (adding it again does nothing); listeners run synchronously, in the order added, inside the engine
 * call that caused the event; adding or removing a listener during an emit affects the next emit only; a listener
 * that throws does not stop the others and does not throw out of the engine (a guest access in progress must
 * complete) — it is counted in {@link EventSet.errors} and the first error is kept in {@link EventSet.firstError}.
 * Cost: a component checks {@link EventSet.size} before building an event, so an event nobody listens to costs one
 * comparison.
 * Does not: queue, defer or copy events; a listener that keeps an event must copy what it needs, since some
 * events are views valid only during the call (trace accesses).
 */

/** A listener of events of type `T`. */
export type Listener<T> = (event: T) => void;

/** A set of listeners of one kind of event. */
export class EventSet<T> {
  private list: readonly Listener<T>[] = [];
  /** Listener calls that threw. */
  errors = 0;
  /** The first error a listener threw, or null. */
  firstError: unknown = null;

  /** Listeners registered. */
  get size(): number {
    return this.list.length;
  }

  /** Add `listener` (once); returns a function that removes it. */
  on(listener: Listener<T>): () => void {
    if (!this.list.includes(listener)) this.list = [...this.list, listener];
    return () => {
      this.off(listener);
    };
  }

  /** Remove `listener`; returns whether it was registered. */
  off(listener: Listener<T>): boolean {
    const i = this.list.indexOf(listener);
    if (i < 0) return false;
    this.list = [...this.list.slice(0, i), ...this.list.slice(i + 1)];
    return true;
  }

  /** Call every listener with `event`. Never throws. */
  emit(event: T): void {
    const list = this.list; // a snapshot: changes during the emit apply to the next one
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(event);
      } catch (e) {
        this.errors++;
        if (this.firstError === null) this.firstError = e;
      }
    }
  }
}
