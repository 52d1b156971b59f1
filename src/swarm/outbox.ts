/** The actions a session's event leads to, collected in order while it decides and handed to the adapter at the end. */
export class Outbox<A> {
  private actions: A[] = [];

  push(action: A): void {
    this.actions.push(action);
  }

  drain(): A[] {
    const out = this.actions;
    this.actions = [];
    return out;
  }
}
