import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { EMOJI, emojiImageName } from './src/lib/emoji.ts';
import { buildCatalogue } from './emoji-catalogue.ts';
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
            // Thousands of small emoji pictures: brotli saves them 7 % over gzip, not worth
            // another 3 MB in the binary.
            if (full.includes(`${sep}emoji${sep}`)) continue;
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
 * The full emoji catalogue as the module `virtual:emoji-catalogue` (a chunk of its own, loaded
 * with the picker or when a message names an emoji the first screen's short table lacks), and
 * the picture of every emoji in it, from Twemoji's SVGs (`@twemoji/svg`), as
 * `/emoji/<code points>.svg`: loaded one by one as they show, so they cost the first screen
 * nothing. An emoji Twemoji has no picture for is left out of the catalogue; a character of the
 * short table without one fails the build.
 */
function emojiCatalogue(): Plugin {
  const id = 'virtual:emoji-catalogue';
  let catalogue: ReturnType<typeof buildCatalogue> | undefined;
  const built = () => (catalogue ??= buildCatalogue());
  return {
    name: 'comet-emoji-catalogue',
    resolveId(source) {
      return source === id ? `\0${id}` : undefined;
    },
    load(source) {
      return source === `\0${id}` ? `export default ${JSON.stringify(built().entries)};` : undefined;
    },
    generateBundle() {
      const { images, twemojiDir } = built();
      const names = new Set([...images, ...Object.values(EMOJI).map(emojiImageName)]);
      for (const name of names) {
        this.emitFile({ type: 'asset', fileName: `emoji/${name}.svg`, source: readFileSync(join(twemojiDir, `${name}.svg`)) });
      }
      // The pictures' licence asks for credit, shipped next to them.
      this.emitFile({
        type: 'asset',
        fileName: 'emoji/ATTRIBUTION.txt',
        source:
          'Emoji graphics: Twemoji, copyright Twitter, Inc and other contributors (jdecked/twemoji),\n' +
          'licensed under CC-BY 4.0. Optimised SVG files from the npm package @twemoji/svg (MIT).\n' +
          'Emoji names, categories and keywords: Emojibase (emojibase-data, MIT); shortcodes: JoyPixels preset.\n',
      });
    },
  };
}

export default defineConfig({
  plugins: [svelte(), emojiCatalogue(), precompress()],
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
