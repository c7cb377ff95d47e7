// A small typed event emitter, so the bundle needs neither Node's 'events' module nor a DOM
// EventTarget subclass (whose events carry no typed payload).

type Listener<Args extends unknown[]> = (...args: Args) => void;
/** Listeners of different events share one map, so they are stored without their argument types. */
type StoredListener = (...args: unknown[]) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  private readonly listeners = new Map<keyof Events, Set<StoredListener>>();

  /** Adds `listener`; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as unknown as StoredListener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as unknown as StoredListener);
  }

  /** Adds a listener that runs for the next `event` only. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const remove = this.on(event, (...args) => {
      remove();
      listener(...args);
    });
    return remove;
  }

  /**
   * Calls every listener of `event`. A listener that throws must not break the client's state
   * machine, so its error is rethrown from a microtask, where the browser reports it as uncaught.
   */
  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
