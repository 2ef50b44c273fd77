// Questions before destructive actions, in the client's own dialog (the browser's `confirm()`
// is unstyled, untranslated in its buttons, and blocks the page).

export interface Question {
  title: string;
  text: string;
  /** The label of the button that goes ahead ("Delete", "Leave"). */
  action: string;
  /** Whether going ahead destroys something (the button is red). */
  danger?: boolean;
}

class Confirmation {
  pending = $state<(Question & { answer: (yes: boolean) => void }) | null>(null);

  /** Asks `question`; resolves true when the person confirms, false when they cancel or close. */
  ask(question: Question): Promise<boolean> {
    this.pending?.answer(false);
    return new Promise((resolve) => {
      this.pending = {
        ...question,
        answer: (yes) => {
          this.pending = null;
          resolve(yes);
        },
      };
    });
  }
}

export const confirmation = new Confirmation();
