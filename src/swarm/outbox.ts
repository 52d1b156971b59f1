/** The actions a session's event leads to, collected in order while it decides and handed to the adapter at the end. */
export class Outbox<A> {
  private actions: A[] = [];

  push(action: A): void {
    this.actions.push(action);
  }

  /** The actions collected; most events lead to none, and those share one empty list. */
  drain(): readonly A[] {
    if (this.actions.length === 0) return NONE;
    const out = this.actions;
    this.actions = [];
    return out;
  }
}

const NONE: readonly never[] = Object.freeze([]);
