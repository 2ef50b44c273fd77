// The ringing sounds, drawn with WebAudio (no sound file to ship): an incoming call rings with
// two short chords a second; a call going out plays the slower ringback tone.

export type Tone = 'incoming' | 'outgoing';

const PATTERNS: Record<Tone, { frequencies: number[]; beeps: [number, number][]; period: number }> = {
  // [start, length] in seconds within each period.
  incoming: { frequencies: [660, 880], beeps: [[0, 0.35], [0.5, 0.35]], period: 2 },
  outgoing: { frequencies: [440, 480], beeps: [[0, 1]], period: 3 },
};

export class Ringtone {
  private context: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  tone: Tone | null = null;

  /** Whether sound is actually coming out (the browser may hold audio until a user gesture). */
  get audible(): boolean {
    return this.context?.state === 'running';
  }

  play(tone: Tone) {
    if (this.tone === tone) return;
    this.stop();
    this.tone = tone;
    try {
      this.context = new AudioContext();
    } catch {
      return;
    }
    void this.context.resume().catch(() => {});
    const pattern = PATTERNS[tone];
    this.schedule(pattern);
    this.timer = setInterval(() => this.schedule(pattern), pattern.period * 1000);
  }

  private schedule(pattern: (typeof PATTERNS)[Tone]) {
    const context = this.context;
    if (!context) return;
    const now = context.currentTime + 0.05;
    const gain = context.createGain();
    gain.gain.value = 0;
    gain.connect(context.destination);
    for (const [start, length] of pattern.beeps) {
      // Short ramps: a square on/off would click.
      gain.gain.setValueAtTime(0, now + start);
      gain.gain.linearRampToValueAtTime(0.12, now + start + 0.02);
      gain.gain.setValueAtTime(0.12, now + start + length - 0.02);
      gain.gain.linearRampToValueAtTime(0, now + start + length);
    }
    for (const frequency of pattern.frequencies) {
      const oscillator = context.createOscillator();
      oscillator.frequency.value = frequency;
      oscillator.connect(gain);
      oscillator.start(now);
      oscillator.stop(now + pattern.period);
    }
  }

  stop() {
    this.tone = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    void this.context?.close().catch(() => {});
    this.context = null;
  }
}
