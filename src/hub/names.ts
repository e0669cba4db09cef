// What the Hugging Face Hub accepts as a repository id and as a revision, written once: the recipe's
// model.id / model.revision, `--model id@revision` and publish's options are all checked here before
// anything is sent to the Hub or becomes a path. A revision also names a file of the HF cache
// (refs/<revision>), so one like "../../etc" must never get that far.

/** A commit id as the Hub reports it: 40 lower-case hex characters. */
export const COMMIT_ID = /^[0-9a-f]{40}$/;

/** The longest repository name huggingface_hub accepts (utils/_validators.py, validate_repo_id). */
export const REPO_NAME_MAX = 96;

/**
 * owner/name as one pattern, for the JSON Schema editors read; repoIdProblem says which rule failed.
 * huggingface_hub's validate_repo_id: each part is letters, digits, "-", "_", "."; it starts and ends
 * with a letter, digit or "_"; no "--" or ".." anywhere; the name is at most 96 characters and does
 * not end in ".git". (Python's \w also takes non-ASCII letters; the Hub itself does not, nor do we.)
 */
export const REPO_ID_PATTERN = /^(?!.*(?:--|\.\.))(?!.*\.git$)\w(?:[\w.-]*\w)?\/(?=[\w.-]{1,96}$)\w(?:[\w.-]*\w)?$/;

const REPO_ID_EXAMPLE = 'microsoft/Phi-3-mini-4k-instruct';

/**
 * Why `text` is not a Hub model id (owner/name), or undefined when it is one. The reason reads on
 * from "not a Hugging Face model id: ", and names the part that is wrong.
 */
export function repoIdProblem(text: string): string | undefined {
  const parts = text.split('/');
  if (parts.length !== 2 || parts.some((part) => part.length === 0)) return `${JSON.stringify(text)} is not owner/name, as in "${REPO_ID_EXAMPLE}"`;
  for (const [role, part] of [['owner', parts[0]], ['name', parts[1]]] as const) {
    const problem = partProblem(part);
    if (problem) return `the ${role} ${JSON.stringify(part)} ${problem}`;
  }
  if (parts[1].length > REPO_NAME_MAX) return `the name has ${parts[1].length} characters; the Hub allows at most ${REPO_NAME_MAX}`;
  if (parts[1].endsWith('.git')) return `the name ${JSON.stringify(parts[1])} cannot end in ".git"`;
  return undefined;
}

function partProblem(part: string): string | undefined {
  if (!/^[\w.-]+$/.test(part)) return 'may hold only letters, digits, "-", "_" and "."';
  if (!/^\w/.test(part) || !/\w$/.test(part)) return 'cannot start or end with "-" or "."';
  if (part.includes('--') || part.includes('..')) return 'cannot contain "--" or ".."';
  return undefined;
}

/**
 * Why `text` cannot be a revision of a Hub repository, or undefined when it can: a full commit id
 * (40 lower-case hex characters), or a branch or tag name as git allows one (the Hub's repositories
 * are git repositories). A string of hex digits with a letter among them that is not a full
 * lower-case commit id is taken for a mistyped commit id, not a branch: it is refused, where the Hub
 * would answer "not found" only after a round trip (and a branch could never be named so by accident).
 */
export function revisionProblem(text: string): string | undefined {
  if (text.length === 0) return 'the revision is empty';
  if (COMMIT_ID.test(text)) return undefined;
  const shown = JSON.stringify(text);
  if (/^[0-9a-fA-F]{7,}$/.test(text) && /[a-fA-F]/.test(text)) {
    if (text.length === 40) return `${shown} is a commit id in upper case; the Hub's commit ids are 40 lower-case hex characters`;
    return `${shown} looks like a commit id, but it has ${text.length} hex characters; a commit id has 40`;
  }
  const problem = refNameProblem(text);
  return problem && `${shown} is neither a commit id (40 lower-case hex characters) nor a branch or tag name: ${problem}`;
}

/**
 * Why `name` cannot be a branch or tag, or undefined when it can: git check-ref-format's rules for a
 * ref name (one level allowed, as for a branch), plus no leading "-" (it would read as an option).
 */
export function refNameProblem(name: string): string | undefined {
  if (/[\x00-\x1f\x7f]/.test(name)) return 'it contains a control character';
  const forbidden = [' ', '~', '^', ':', '?', '*', '[', '\\', '..', '@{'].find((text) => name.includes(text));
  if (forbidden) return `it contains ${JSON.stringify(forbidden)}`;
  if (name === '@') return 'it is "@" alone';
  if (name.startsWith('-')) return 'it starts with "-"';
  if (name.startsWith('/') || name.endsWith('/')) return 'it starts or ends with "/"';
  if (name.includes('//')) return 'it contains "//"';
  if (name.endsWith('.')) return 'it ends with "."';
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return `its part ${JSON.stringify(part)} starts with "."`;
    if (part.endsWith('.lock')) return `its part ${JSON.stringify(part)} ends with ".lock"`;
    // Each part becomes a file name under refs/ in the HF cache.
    if (Buffer.byteLength(part) > 255) return `its part of ${Buffer.byteLength(part)} bytes is longer than a file name may be (255)`;
  }
  return undefined;
}
