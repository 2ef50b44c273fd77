// A dialog's action state: busy while an action runs, then its error (the server's words).

export class Pending {
  error = $state('');
  busy = $state(false);

  async run(action: () => Promise<void>) {
    this.error = '';
    this.busy = true;
    try {
      await action();
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    } finally {
      this.busy = false;
    }
  }
}
