// Sending files: the files waiting in the pre-send dialog, and the uploads under way.
//
// An upload is two steps, as in upstream's web client: `rooms.media/<rid>` stores the file
// (XMLHttpRequest, for its upload progress events), then `rooms.mediaConfirm/<rid>/<fileId>`
// posts the message. Cancelling before the confirmation posts nothing: an unconfirmed file is
// never shown and the server drops it when it expires.

import { api, ApiError, errorFromEnvelope } from './api';
import { notifications } from './stores/notifications.svelte';
import { rooms } from './stores/rooms.svelte';
import { session, type UploadLimits } from './stores/session.svelte';
import { timelines } from './stores/timelines.svelte';
import { i18n, t } from './i18n.svelte';
import type { Message } from './types';

/** Files chosen (picker, drop, paste) and waiting for the pre-send dialog. */
export interface Offer {
  rid: string;
  tmid?: string;
  files: File[];
}

/** One file as the dialog sends it. */
export interface Outgoing {
  file: File;
  name: string;
  description: string;
}

export type JobState = 'queued' | 'uploading' | 'sending' | 'failed';

export interface UploadJob {
  id: string;
  rid: string;
  tmid?: string;
  name: string;
  size: number;
  /** Bytes sent so far. */
  loaded: number;
  state: JobState;
  error?: string;
}

/** No progress for this long means the connection is stuck: the upload fails. */
const STALL_MS = 60_000;
/** At most this many files from one drop or paste (a folder's worth is a mistake). */
export const MAX_FILES = 20;

/** Upstream's `fileUploadIsValidContentType`: the deny list wins, an empty allow list allows all. */
export function typeAllowed(type: string, allow: string, deny: string): boolean {
  const matches = (list: string) =>
    list
      .split(',')
      .map((entry) => entry.trim().toLowerCase())
      .filter(Boolean)
      .some((entry) => {
        const wanted = type.toLowerCase();
        if (entry === wanted) return true;
        return entry.endsWith('/*') && wanted.split('/')[0] === entry.slice(0, -2);
      });
  if (matches(deny)) return false;
  return !allow.trim() || matches(allow);
}

/** Why `file` cannot go to `rid` under the public settings, or null when it may. */
export function refusal(file: File, rid: string, limits: UploadLimits = session.uploadLimits): string | null {
  if (!limits.enabled) return t('upload.disabled');
  if (rooms.subs[rid]?.t === 'd' && !limits.enabledDirect) return t('upload.disabled_direct');
  if (limits.maxSize >= 0 && file.size > limits.maxSize) {
    return t('upload.too_large', { size: i18n.size(limits.maxSize) });
  }
  const type = file.type || 'application/octet-stream';
  if (!typeAllowed(type, limits.allow, limits.deny)) return t('upload.type_refused', { type });
  return null;
}

/** The server's refusal as people read it: upstream appends ` [error-type]` to the text. */
function serverMessage(error: ApiError): string {
  if (error.status === 0) return t('upload.network');
  const suffix = error.errorType ? ` [${error.errorType}]` : '';
  const text = suffix && error.message.endsWith(suffix) ? error.message.slice(0, -suffix.length) : error.message;
  return text || error.errorType || t('upload.failed');
}

class Uploads {
  /** Files waiting in the pre-send dialog; null when it is closed. */
  offer = $state<Offer | null>(null);
  jobs = $state<UploadJob[]>([]);
  private requests = new Map<string, XMLHttpRequest>();
  private cancelled = new Set<string>();
  private nextId = 1;

  /** Opens the pre-send dialog for `files` (ignored when there are none). */
  propose(rid: string, files: Iterable<File>, tmid?: string) {
    const list = [...files].slice(0, MAX_FILES);
    if (list.length === 0) return;
    if (!session.uploadLimits.enabled) {
      notifications.notify(t('upload.disabled'), 'error');
      return;
    }
    this.offer = { rid, tmid, files: list };
  }

  /** The uploads under way in a room's main composer, or in one thread. */
  of(rid: string, tmid?: string): UploadJob[] {
    return this.jobs.filter((job) => job.rid === rid && job.tmid === tmid);
  }

  /** Sends the dialog's files one after another (in order); `msg` goes with the first. */
  async send(rid: string, items: Outgoing[], msg: string, tmid?: string) {
    const batch = items.map((item) => {
      const job: UploadJob = {
        id: `u${this.nextId++}`,
        rid,
        tmid,
        name: item.name,
        size: item.file.size,
        loaded: 0,
        state: 'queued',
      };
      this.jobs.push(job);
      return { item, id: job.id };
    });
    let text = msg.trim();
    for (const { item, id } of batch) {
      if (this.cancelled.has(id)) {
        this.cancelled.delete(id);
        continue;
      }
      const posted = await this.run(id, item, text);
      if (posted) text = '';
    }
  }

  /** The live record of job `id` (the reactive proxy, so changes show). */
  private job(id: string): UploadJob | undefined {
    return this.jobs.find((job) => job.id === id);
  }

  private drop(id: string) {
    this.jobs = this.jobs.filter((job) => job.id !== id);
    this.requests.delete(id);
  }

  private failed(id: string, message: string) {
    const job = this.job(id);
    if (job) {
      job.state = 'failed';
      job.error = message;
    }
    this.requests.delete(id);
  }

  /** Uploads and confirms one file; true when its message was posted. */
  private async run(id: string, item: Outgoing, msg: string): Promise<boolean> {
    const start = this.job(id);
    if (!start) return false;
    const { rid, tmid } = start;
    start.state = 'uploading';
    let fileId: string;
    try {
      fileId = await this.store(id, rid, item);
    } catch (error) {
      if (this.cancelled.delete(id)) {
        this.drop(id);
      } else {
        this.failed(id, error instanceof ApiError ? serverMessage(error) : t('upload.failed'));
      }
      return false;
    }
    // Cancelled after the file arrived but before the confirmation: nothing is posted.
    if (this.cancelled.delete(id)) {
      this.drop(id);
      return false;
    }
    const sending = this.job(id);
    if (sending) sending.state = 'sending';
    const fields: { msg?: string; description?: string; tmid?: string } = {};
    if (msg) fields.msg = msg;
    if (item.description.trim()) fields.description = item.description.trim();
    if (tmid) fields.tmid = tmid;
    try {
      const { message } = await api.confirmMedia(rid, fileId, fields);
      timelines.accept(message as Message);
      this.drop(id);
      return true;
    } catch (error) {
      this.failed(id, error instanceof ApiError ? serverMessage(error) : t('upload.failed'));
      return false;
    }
  }

  /** `rooms.media`: the file's id once stored; rejects with the server's refusal. */
  private store(id: string, rid: string, item: Outgoing): Promise<string> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.requests.set(id, xhr);
      let lastProgress = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - lastProgress > STALL_MS) xhr.abort();
      }, 5_000);
      const finish = () => clearInterval(watchdog);
      xhr.open('POST', `/api/v1/rooms.media/${encodeURIComponent(rid)}`);
      xhr.setRequestHeader('Accept', 'application/json');
      for (const [name, value] of Object.entries(api.rest.authHeaders())) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => {
        lastProgress = Date.now();
        const job = this.job(id);
        // The request is a little larger than the file (the multipart framing): scale.
        if (job && event.lengthComputable && event.total > 0) {
          job.loaded = Math.min(job.size, Math.round((job.size * event.loaded) / event.total));
        }
      };
      xhr.onload = () => {
        finish();
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(xhr.responseText) as Record<string, unknown>;
        } catch {
          // Not JSON: handled as a refusal below.
        }
        const file = body.file as { _id?: unknown } | undefined;
        if (xhr.status >= 200 && xhr.status < 300 && body.success !== false && typeof file?._id === 'string') {
          const job = this.job(id);
          if (job) job.loaded = job.size;
          resolve(file._id);
          return;
        }
        if (xhr.status === 401) api.rest.onUnauthorized();
        reject(errorFromEnvelope(xhr.status, body, xhr.statusText));
      };
      xhr.onerror = () => {
        finish();
        reject(new ApiError('network', 0));
      };
      xhr.onabort = () => {
        finish();
        reject(new ApiError(this.cancelled.has(id) ? 'cancelled' : 'network', 0));
      };
      const form = new FormData();
      form.append('file', item.file, item.name);
      xhr.send(form);
    });
  }

  /** Logging out: every upload stops and nothing more is posted. */
  reset() {
    for (const job of this.jobs) if (job.state !== 'failed') this.cancelled.add(job.id);
    for (const xhr of this.requests.values()) xhr.abort();
    this.requests.clear();
    this.jobs = [];
    this.offer = null;
  }

  /** Stops an upload; a file already stored but not confirmed is never posted. */
  cancel(id: string) {
    const job = this.job(id);
    if (!job) return;
    if (job.state === 'failed') {
      this.drop(id);
      return;
    }
    if (job.state === 'sending') return;
    this.cancelled.add(id);
    const xhr = this.requests.get(id);
    if (xhr) xhr.abort();
    else if (job.state === 'queued') this.drop(id);
  }
}

export const uploads = new Uploads();

function carriesFiles(event: DragEvent): boolean {
  return Boolean(event.dataTransfer?.types.includes('Files'));
}

/** Drag-and-drop of files onto a room or a thread: `active` while files are over it. */
export class DropZone {
  active = $state(false);
  private depth = 0;

  constructor(
    private target: () => { rid: string; tmid?: string; disabled?: boolean },
  ) {}

  ondragenter = (event: DragEvent) => {
    if (!carriesFiles(event) || this.target().disabled) return;
    event.preventDefault();
    this.depth++;
    this.active = true;
  };

  ondragover = (event: DragEvent) => {
    if (!carriesFiles(event) || this.target().disabled) return;
    // Without this the browser refuses the drop (and may open the file instead).
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    this.active = true;
  };

  ondragleave = (event: DragEvent) => {
    if (!carriesFiles(event)) return;
    // Enter and leave fire for every child crossed; the zone ends when the count is back at 0.
    this.depth = Math.max(0, this.depth - 1);
    if (this.depth === 0) this.active = false;
  };

  ondrop = (event: DragEvent) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    // A thread panel inside the room must not also open the room's dialog.
    event.stopPropagation();
    this.depth = 0;
    this.active = false;
    const { rid, tmid, disabled } = this.target();
    if (disabled) return;
    uploads.propose(rid, event.dataTransfer?.files ?? [], tmid);
  };
}
