import { lstat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { ExitCode, HubError } from '../errors.js';
import { hubLibrary, hubUrl } from './hub.js';

// Uploads a folder's files to a Hugging Face Hub model repository as one commit, through
// @huggingface/hub: the repository (and branch) is created when missing, large files go through
// git LFS, and an LFS object the Hub already holds (same sha256) is not sent again: the Hub's LFS
// batch reply lists it without an upload action. The token goes to the library and nowhere else.

export interface FileToUpload {
  /** Path in the repository, with forward slashes. */
  path: string;
  /** The file on disk, or the bytes themselves (the model card). */
  source: { file: string } | { bytes: Buffer };
  size: number;
}

export type UploadPhase = 'repository' | 'preparing' | 'hashing' | 'uploading' | 'committing';

export interface UploadProgress {
  phase: UploadPhase;
  /** LFS bytes sent so far, and how many the Hub asked for (known once it has answered which it already holds). */
  sentBytes: number;
  bytesToSend?: number;
}

export interface UploadResult {
  commit: { oid: string; url: string };
  createdRepository: boolean;
  createdBranch: boolean;
  /** Files committed inline (small ones) and through LFS. */
  regularFiles: number;
  lfs: {
    files: number;
    /** Objects the Hub asked for, and the bytes actually sent for them. */
    sent: { files: number; bytes: number };
    /** Objects the Hub already held: nothing was sent for them. */
    alreadyThere: { files: number; bytes: number };
  };
}

export interface UploadRequest {
  repo: string;
  branch: string;
  private: boolean;
  title: string;
  description?: string;
  files: FileToUpload[];
  accessToken: string;
  onProgress?: (progress: UploadProgress) => void;
}

const LFS_BATCH = /\/info\/lfs\/objects\/batch$/;
const PREUPLOAD = /\/preupload\/[^/]+$/;

/**
 * A Blob that counts the bytes read from it while fetch streams it to the server. undici takes any
 * object tagged Blob with a size and a stream(), and sends Content-Length from its size.
 */
function countingBlob(blob: Blob, counted: (bytes: number) => void): Blob {
  return {
    size: blob.size,
    type: blob.type,
    [Symbol.toStringTag]: 'Blob',
    arrayBuffer: () => blob.arrayBuffer(),
    stream() {
      const reader = blob.stream().getReader();
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          counted(value.byteLength);
          controller.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
    },
  } as unknown as Blob;
}

/** The fetch the library is given: it watches the LFS protocol to count what is sent and what the Hub already has. */
function observingFetch(result: UploadResult, report: (progress: Partial<UploadProgress>) => void): typeof fetch {
  let sentBytes = 0;
  let bytesToSend = 0;
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    let request = init;
    if (init?.method === 'PUT' && init.body instanceof Blob) {
      request = {
        ...init,
        body: countingBlob(init.body, (bytes) => {
          sentBytes += bytes;
          result.lfs.sent.bytes = sentBytes;
          report({ phase: 'uploading', sentBytes, bytesToSend });
        }),
      };
    }
    const response = await fetch(input, request);
    if (response.ok && PREUPLOAD.test(new URL(url).pathname)) {
      const { files = [] } = (await response.clone().json()) as { files?: Array<{ uploadMode?: string }> };
      for (const file of files) {
        if (file.uploadMode === 'lfs') result.lfs.files += 1;
        else result.regularFiles += 1;
      }
    }
    if (response.ok && LFS_BATCH.test(new URL(url).pathname)) {
      const { objects = [] } = (await response.clone().json()) as { objects?: Array<{ size: number; actions?: { upload?: unknown } }> };
      for (const object of objects) {
        const bucket = object.actions?.upload ? result.lfs.sent : result.lfs.alreadyThere;
        if (object.actions?.upload) bytesToSend += object.size;
        bucket.files += 1;
        if (bucket === result.lfs.alreadyThere) bucket.bytes += object.size;
      }
      report({ phase: 'uploading', sentBytes, bytesToSend });
    }
    return response;
  };
}

/** The library's error as a HubError in phiforge's words, with the token cut out should a server ever echo it. */
export function uploadError(error: unknown, action: string, token: string): HubError {
  const status = (error as { statusCode?: number }).statusCode;
  const raw = error instanceof Error ? error.message : String(error);
  const message = token ? raw.split(token).join('<token>') : raw;
  if (/must start with 'hf_'/.test(message)) {
    return new HubError(`${action}: the Hugging Face token is not one (it must start with hf_)`, 'Set HF_TOKEN to a token with write access (huggingface.co/settings/tokens), or log in with `hf auth login`.', ExitCode.badInput);
  }
  if (status === 401 || status === 403) {
    return new HubError(`${action}: access denied (${status})`, 'Use a token with write access to this namespace: set HF_TOKEN, or log in with `hf auth login`.');
  }
  return new HubError(`${action}: ${message}`, 'Check the network and HF_ENDPOINT; the publish can be repeated: files the Hub already holds are not sent again.');
}

export async function uploadToHub(request: UploadRequest): Promise<UploadResult> {
  // The library would follow a link: callers pass the regular files the artifact check resolved (checkArtifact), and a bug that does not is caught here, before anything is sent.
  for (const file of request.files) {
    if ('file' in file.source && !(await lstat(file.source.file)).isFile()) throw new Error(`${file.source.file} is not a regular file: only the files checkArtifact resolved are uploaded`);
  }
  const { createRepo, createBranch, repoExists, commitIter } = await hubLibrary();
  const common = { hubUrl: hubUrl(), accessToken: request.accessToken };
  const repo = { type: 'model' as const, name: request.repo };
  let phase: UploadPhase = 'repository';
  const progress: UploadProgress = { phase, sentBytes: 0 };
  const report = (update: Partial<UploadProgress>) => {
    Object.assign(progress, update);
    request.onProgress?.({ ...progress });
  };
  const result: UploadResult = {
    commit: { oid: '', url: '' },
    createdRepository: false,
    createdBranch: false,
    regularFiles: 0,
    lfs: { files: 0, sent: { files: 0, bytes: 0 }, alreadyThere: { files: 0, bytes: 0 } },
  };
  try {
    report({ phase });
    // Asked first, so that a token that may write to an existing repository but not create one works.
    if (!(await repoExists({ repo, ...common }))) {
      try {
        await createRepo({ repo, ...common, ...(request.private ? { visibility: 'private' as const } : {}) });
        result.createdRepository = true;
      } catch (error) {
        // Someone created it meanwhile: that is what we wanted.
        if ((error as { statusCode?: number }).statusCode !== 409) throw error;
      }
    }
    if (request.branch !== 'main') {
      try {
        await createBranch({ repo, branch: request.branch, ...common });
        result.createdBranch = true;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 409) throw error;
      }
    }
    const operations = request.files.map((file) => ({
      operation: 'addOrUpdate' as const,
      path: file.path,
      content: 'file' in file.source ? pathToFileURL(file.source.file) : new Blob([new Uint8Array(file.source.bytes)]),
    }));
    const commits = commitIter({
      repo,
      ...common,
      title: request.title,
      description: request.description,
      branch: request.branch,
      operations,
      // Plain LFS (S3 PUTs), the protocol the tests exercise against a loopback Hub; the Hub accepts it for every repository.
      useXet: false,
      fetch: observingFetch(result, report),
    });
    for (;;) {
      const step = await commits.next();
      if (step.done) {
        if (!step.value) throw new Error('the Hub answered the commit without a commit id');
        result.commit = { oid: step.value.commit.oid, url: step.value.commit.url };
        break;
      }
      const event = step.value;
      if (event.event === 'phase') {
        phase = event.phase === 'preuploading' ? 'preparing' : event.phase === 'uploadingLargeFiles' ? 'hashing' : 'committing';
        report({ phase });
      }
    }
    return result;
  } catch (error) {
    throw uploadError(error, `publish to ${request.repo}`, request.accessToken);
  }
}
