// The new-message sounds, loaded on the first one played. Upstream's built-in sounds are
// recordings; Comet ships no audio files, so each built-in name is a short synthesised motif of
// its own (a chime rises, a beep is one tone…). Any other name is a custom sound's id, played
// from `/custom-sounds/<id>.mp3` as the administration's sounds are served.

const MOTIFS: Record<string, { hz: number; at: number; length: number; wave?: OscillatorType }[]> = {
  chime: [
    { hz: 880, at: 0, length: 0.18 },
    { hz: 1320, at: 0.12, length: 0.3 },
  ],
  beep: [{ hz: 1000, at: 0, length: 0.15, wave: 'square' }],
  ding: [{ hz: 1568, at: 0, length: 0.45 }],
  droplet: [
    { hz: 1200, at: 0, length: 0.08 },
    { hz: 1800, at: 0.06, length: 0.12 },
  ],
  highbell: [
    { hz: 2093, at: 0, length: 0.3 },
    { hz: 2637, at: 0.05, length: 0.35 },
  ],
  seasons: [
    { hz: 659, at: 0, length: 0.15 },
    { hz: 784, at: 0.15, length: 0.15 },
    { hz: 988, at: 0.3, length: 0.25 },
  ],
};

let context: AudioContext | null = null;

/** Plays `name` at `volume` (0–100); browsers that block audio before a click stay silent. */
export function playSound(name: string, volume = 100) {
  const gainLevel = Math.max(0, Math.min(100, volume)) / 100;
  if (gainLevel === 0) return;
  const motif = MOTIFS[name];
  if (!motif) {
    const audio = new Audio(`/custom-sounds/${encodeURIComponent(name)}.mp3`);
    audio.volume = gainLevel;
    void audio.play().catch(() => {});
    return;
  }
  if (typeof AudioContext === 'undefined') return;
  context ??= new AudioContext();
  const now = context.currentTime;
  for (const note of motif) {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = note.wave ?? 'sine';
    oscillator.frequency.value = note.hz;
    gain.gain.setValueAtTime(0.25 * gainLevel, now + note.at);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + note.at + note.length);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(now + note.at);
    oscillator.stop(now + note.at + note.length);
  }
}
