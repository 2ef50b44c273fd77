import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { EMOJI, emojiFor, emojiImageName } from './src/lib/emoji.ts';
import { TONEABLE } from './src/lib/emojiData.ts';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

// The build goes where the Rust build script asks (its OUT_DIR), or to dist/.
const outDir = process.env.COMET_WEB_OUT ? resolve(process.env.COMET_WEB_OUT) : 'dist';

const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt', '.webmanifest']);

/** Writes .gz and .br siblings of every compressible output file, for the server to send. */
function precompress(): Plugin {
  let dir = outDir;
  return {
    name: 'comet-precompress',
    apply: 'build',
    configResolved(config) {
      dir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const walk = (path: string) => {
        for (const name of readdirSync(path)) {
          const full = join(path, name);
          if (statSync(full).isDirectory()) {
            walk(full);
          } else if (COMPRESSIBLE.has(extname(name))) {
            const body = readFileSync(full);
            if (body.length < 512) continue;
            writeFileSync(`${full}.gz`, gzipSync(body, { level: 9 }));
            writeFileSync(
              `${full}.br`,
              brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
            );
          }
        }
      };
      walk(dir);
    },
  };
}

/**
 * Ships the picture of every emoji the client knows (`EMOJI`), from Twemoji's SVGs
 * (`@twemoji/svg`), as `/emoji/<code points>.svg`: loaded one by one as they show, so they cost
 * the first screen nothing. A character without a picture fails the build.
 */
function emojiImages(): Plugin {
  return {
    name: 'comet-emoji-images',
    apply: 'build',
    generateBundle() {
      const require = createRequire(import.meta.url);
      const dir = dirname(require.resolve('@twemoji/svg/package.json'));
      const names = new Set(Object.values(EMOJI).map(emojiImageName));
      // Skin tones of the hands that have them (the picker's `name_toneN`).
      for (const name of TONEABLE) for (let tone = 1; tone <= 5; tone++) names.add(emojiImageName(emojiFor(`${name}_tone${tone}`) ?? ''));
      for (const name of names) {
        this.emitFile({ type: 'asset', fileName: `emoji/${name}.svg`, source: readFileSync(join(dir, `${name}.svg`)) });
      }
      // The pictures' licence asks for credit, shipped next to them.
      this.emitFile({
        type: 'asset',
        fileName: 'emoji/ATTRIBUTION.txt',
        source:
          'Emoji graphics: Twemoji, copyright Twitter, Inc and other contributors (jdecked/twemoji),\n' +
          'licensed under CC-BY 4.0. Optimised SVG files from the npm package @twemoji/svg (MIT).\n',
      });
    },
  };
}

export default defineConfig({
  plugins: [svelte(), emojiImages(), precompress()],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 250,
  },
  server: {
    proxy: {
      '/api': 'http://localhost:3000',
      '/websocket': { target: 'ws://localhost:3000', ws: true },
    },
  },
});
