// Light, dark, or whatever the system prefers; remembered per browser.

export type ThemeChoice = 'light' | 'dark' | 'system';
const KEY = 'comet.theme';

class Theme {
  choice = $state<ThemeChoice>('system');

  init() {
    try {
      const saved = localStorage.getItem(KEY);
      if (saved === 'light' || saved === 'dark' || saved === 'system') this.choice = saved;
    } catch {
      // Follow the system.
    }
    this.apply();
  }

  set(choice: ThemeChoice) {
    this.choice = choice;
    try {
      localStorage.setItem(KEY, choice);
    } catch {
      // Not remembered.
    }
    this.apply();
  }

  private apply() {
    const root = document.documentElement;
    if (this.choice === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.choice;
  }
}

export const theme = new Theme();
