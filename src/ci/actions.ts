// The actions the generated workflow uses, pinned to the full commit SHA of a release: GitHub's
// security guide calls this the only way to use an action as an immutable release. Each SHA was
// read from the action's own repository (`git rev-list -n1 <tag>`), never from a fork; the comment
// beside each `uses:` names the release so that Dependabot and people can follow it.

export interface PinnedAction {
  /** owner/name */
  repository: string;
  sha: string;
  version: string;
}

export const ACTIONS = {
  checkout: { repository: 'actions/checkout', sha: '3d3c42e5aac5ba805825da76410c181273ba90b1', version: 'v7.0.1' },
  setupNode: { repository: 'actions/setup-node', sha: '820762786026740c76f36085b0efc47a31fe5020', version: 'v7.0.0' },
  setupPython: { repository: 'actions/setup-python', sha: '5fda3b95a4ea91299a34e894583c3862153e4b97', version: 'v7.0.0' },
  cache: { repository: 'actions/cache', sha: '27d5ce7f107fe9357f9df03efb73ab90386fccae', version: 'v5.0.5' },
  uploadArtifact: { repository: 'actions/upload-artifact', sha: 'bbbca2ddaa5d8feaa63e36b76fdaad77386f024f', version: 'v7.0.0' },
  downloadArtifact: { repository: 'actions/download-artifact', sha: '3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c', version: 'v8.0.1' },
  // Since v4 a wrapper of actions/attest, which it pins by SHA itself: the same SLSA build-provenance
  // attestation, signed with a short-lived Sigstore certificate for this workflow run.
  attestBuildProvenance: { repository: 'actions/attest-build-provenance', sha: 'a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32', version: 'v4.1.0' },
} as const satisfies Record<string, PinnedAction>;

/** `actions/checkout@<sha>`; the version goes in a comment beside it (see workflow.ts). */
export function usesOf(action: PinnedAction): string {
  return `${action.repository}@${action.sha}`;
}
