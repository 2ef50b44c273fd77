// Code blocks in colour (loaded with the first fenced code block on screen): highlight.js's
// core with a handful of common languages. Its output is copied into the page as spans and
// text only, so no markup from a message ever reaches the page. The colours follow the light
// and dark themes through CSS variables.

import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
// The colours: a stylesheet of the chunk (the page's CSP allows no inline styles).
import './highlight.css';

const LANGUAGES = { bash, c, cpp, css, diff, go, java, javascript, json, python, rust, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

/** Guessed among these when a block names no language (or one not registered). */
const GUESSES = Object.keys(LANGUAGES);


/** Copies highlight.js's spans and text (nothing else) from `from` into `to`. */
function copy(from: Node, to: Node) {
  for (const child of from.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      to.appendChild(document.createTextNode(child.textContent ?? ''));
    } else if (child instanceof HTMLElement && child.tagName === 'SPAN') {
      const span = document.createElement('span');
      const names = child.className.split(/\s+/).filter((name) => /^hljs-[\w-]+$/.test(name) || /^[\w-]+_$/.test(name));
      if (names.length) span.className = names.join(' ');
      copy(child, span);
      to.appendChild(span);
    }
  }
}

/** Puts `code`, highlighted as `language` (or a guess), into `element`. */
export function paint(element: HTMLElement, code: string, language: string) {
  const known = language && hljs.getLanguage(language) ? language : undefined;
  const result = known ? hljs.highlight(code, { language: known, ignoreIllegals: true }) : hljs.highlightAuto(code, GUESSES);
  const parsed = new DOMParser().parseFromString(`<body>${result.value}</body>`, 'text/html');
  element.replaceChildren();
  copy(parsed.body, element);
  element.dataset.highlighted = result.language ?? 'plain';
}
