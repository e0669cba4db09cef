import { Document, isMap, isPair, isScalar, visit } from 'yaml';
import { VALIDATION_DIR } from '../artifact/manifest.js';
import { ACTIONS, usesOf, type PinnedAction } from './actions.js';
import type { CiConfig } from './config.js';
import type { ExportLeg, PublishLeg, ValidateLeg } from './matrix.js';

// The GitHub Actions workflow `phiforge ci github` writes: a pure function of the configuration and
// the recipe globs. Nothing in it depends on which recipes exist today: the plan job expands the
// matrix on every run (`phiforge ci matrix`), so adding a recipe changes the matrix, not this file.
//
//   plan ─┬─ export (per recipe) ── validate (per recipe x device class) ─┬─ report ── publish
//         └───────────────────────────────────────────────────────────────┘
//
// Jobs hand each other nothing but the plan's outputs and uploaded artifacts: every job starts in a
// fresh checkout with its own phiforge cache (venvs and step outputs come from actions/cache only).
// phiforge itself is installed once, by the plan job, and handed to the others as an artifact.

export interface WorkflowInput {
  config: CiConfig;
  /** The configuration file as the command line named it (passed on to phiforge in the jobs), if any. */
  configFile?: string;
  /** Recipe files and globs, relative to the repository root. */
  patterns: string[];
}

type Step = Record<string, unknown>;
type Job = Record<string, unknown>;

/** Artifact names: one artifact folder per recipe, one results upload per recipe x device class. */
export const ARTIFACT_PREFIX = 'phiforge-artifact-';
export const RESULTS_PREFIX = 'phiforge-results-';
export const REPORT_ARTIFACT = 'phiforge-report';
/** phiforge as the plan job installed it (phiforge.built), for the other jobs: one tar file of that name. */
export const CLI_ARTIFACT = 'phiforge-cli';
/** Where the jobs keep artifacts and JUnit files, relative to the workspace. */
export const DIST = 'dist';
export const JUNIT_DIR = 'phiforge-junit';
export const REPORT_DIR = 'phiforge-report';

/** `${{ matrix.<field> }}`, with the field checked against the leg types at compile time. */
const exportField = (field: keyof ExportLeg) => `\${{ matrix.${field} }}`;
const validateField = (field: keyof ValidateLeg) => `\${{ matrix.${field} }}`;
const publishField = (field: keyof PublishLeg) => `\${{ matrix.${field} }}`;

/**
 * Steps that need what GitHub gives only to runs it trusts: the OIDC token that attestations are
 * signed with, and secrets. A fork's pull request has neither, so they are skipped there rather than
 * failed; a pull request from a branch of this repository has both.
 */
const TRUSTED_RUN = "${{ github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository }}";

/** A word for bash: as it is when it is safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The whole workflow as a YAML document, with each pinned action's release in a comment. */
export function workflowDocument(input: WorkflowInput): Document {
  const { config, configFile, patterns } = input;
  const phiforge = config.phiforge.command;
  const configArg = configFile === undefined ? '' : ` --config ${shellWord(configFile)}`;
  const recipeArgs = patterns.map(shellWord).join(' ');
  const timeouts = config.timeout_minutes;
  const withPython = config.python.setup;
  // The venv cache belongs to one OS and one Python: a venv's interpreter is a link into it.
  const pythonVersion = withPython ? '${{ steps.python.outputs.python-version }}' : config.python.version;
  // A step's keys in the order people read them: what it is, whether it runs, what runs, with what.
  const uses = (action: PinnedAction, { name, id, if: condition, ...rest }: Step): Step => ({ name, ...(id ? { id } : {}), ...(condition ? { if: condition } : {}), uses: usesOf(action), ...rest });

  // phiforge is installed by the plan job alone when it can hand the result on (phiforge.built):
  // the other jobs download it instead of installing, so they need neither npm nor its cache.
  const handsOver = config.phiforge.built.length > 0;
  const install: Step = { name: 'Install phiforge', run: config.phiforge.install };
  // setup-node's npm cache is for a job that runs npm (its post step fails where npm's cache folder does not exist).
  const setupNode = (installs: boolean) =>
    uses(ACTIONS.setupNode, { name: 'Set up Node.js', with: { 'node-version': config.phiforge.node, ...(installs && config.phiforge.install.startsWith('npm ') ? { cache: 'npm' } : {}) } });
  const checkout = uses(ACTIONS.checkout, { name: 'Check out', with: { 'persist-credentials': false } });
  // One tar file: artifacts keep neither file modes nor links, and leave out hidden files (node_modules/.bin).
  const handOver: Step[] = [
    { name: 'Pack phiforge for the other jobs', run: `tar -cf ${CLI_ARTIFACT}.tar ${config.phiforge.built.map(shellWord).join(' ')}` },
    uses(ACTIONS.uploadArtifact, { name: 'Upload phiforge', with: { name: CLI_ARTIFACT, path: `${CLI_ARTIFACT}.tar`, 'if-no-files-found': 'error', 'retention-days': 1 } }),
  ];
  const receive: Step[] = [
    uses(ACTIONS.downloadArtifact, { name: 'Download phiforge (installed once, by the plan job)', with: { name: CLI_ARTIFACT, path: '.' } }),
    { name: 'Unpack phiforge', run: `tar -xf ${CLI_ARTIFACT}.tar && rm ${CLI_ARTIFACT}.tar` },
  ];
  const setup = (python: boolean): Step[] => [
    checkout,
    setupNode(!handsOver),
    ...(python && withPython ? [uses(ACTIONS.setupPython, { name: 'Set up Python', id: 'python', with: { 'python-version': config.python.version } })] : []),
    ...(handsOver ? receive : [install]),
  ];
  // A venv holds compiled extensions of one OS, CPU architecture and Python.
  const venvCache = (key: string): Step[] =>
    config.cache.toolchains
      ? [uses(ACTIONS.cache, { name: 'Toolchain venvs (keyed by their lock digests)', with: { path: `${config.cache.dir}/toolchains`, key: `phiforge-venvs-\${{ runner.os }}-\${{ runner.arch }}-py${pythonVersion}-${key}` } })]
      : [];
  const downloadArtifacts: Step = uses(ACTIONS.downloadArtifact, { name: 'Download the artifacts', with: { pattern: `${ARTIFACT_PREFIX}*`, 'merge-multiple': true, path: DIST } });

  const plan: Job = {
    name: 'plan',
    'runs-on': config.runners.default,
    'timeout-minutes': timeouts.plan,
    outputs: {
      export: '${{ steps.matrix.outputs.export }}',
      validate: '${{ steps.matrix.outputs.validate }}',
      export_count: '${{ steps.matrix.outputs.export_count }}',
      validate_count: '${{ steps.matrix.outputs.validate_count }}',
    },
    steps: [
      checkout,
      setupNode(true),
      install,
      { name: 'Check that this workflow is the one phiforge makes from the configuration', run: `${phiforge} ci github ${recipeArgs}${configArg} --check ${shellWord(config.workflow.file)}` },
      { name: 'Expand the matrix (recipe x device class)', id: 'matrix', run: `${phiforge} ci matrix ${recipeArgs}${configArg}` },
      ...(handsOver ? handOver : []),
    ],
  };

  // Every file of the artifact as this job made it: the files manifest.json lists, and manifest.json
  // (a build writes nothing else there; validation results and the model card come later, and
  // describe the artifact rather than being part of it).
  const artifactDir = `${DIST}/${exportField('artifact')}`;
  const attest: Step[] = config.attest
    ? [
        uses(ACTIONS.attestBuildProvenance, {
          name: 'Attest every file of the artifact (GitHub artifact attestations)',
          if: TRUSTED_RUN,
          with: { 'subject-path': `${artifactDir}/**\n!${artifactDir}/${VALIDATION_DIR}/**\n!${artifactDir}/README.md\n` },
        }),
      ]
    : [];
  const signing = config.signing;
  const sign: Step[] = signing
    ? [
        {
          name: `Sign the artifact with the key in secrets.${signing.key_secret}`,
          if: TRUSTED_RUN,
          // The key reaches the step through its environment, goes to a file only this user can read
          // (mktemp), and is removed when the step ends; nothing prints it.
          env: { SIGNING_KEY: `\${{ secrets.${signing.key_secret} }}`, ARTIFACT: exportField('artifact') },
          run: [
            `if [ -z "$SIGNING_KEY" ]; then echo "::error::the secret ${signing.key_secret} is empty or not set (Settings → Secrets and variables → Actions)"; exit 1; fi`,
            'key="$(mktemp "$RUNNER_TEMP/phiforge-signing-key.XXXXXX")"',
            `trap 'rm -f "$key"' EXIT`,
            `printf '%s\\n' "$SIGNING_KEY" > "$key"`,
            // phiforge and what it starts need the file, not the variable.
            'unset SIGNING_KEY',
            `${phiforge} sign "${DIST}/$ARTIFACT" --key "$key"`,
          ].join('\n'),
        },
      ]
    : [];

  const exportJob: Job = {
    name: `export ${exportField('artifact')}`,
    needs: 'plan',
    // GitHub fails a job whose matrix is empty (a fork's pull request may leave out every export).
    if: "${{ needs.plan.outputs.export_count != '0' }}",
    'runs-on': exportField('labels'),
    'timeout-minutes': timeouts.export,
    ...(config.attest ? { permissions: { contents: 'read', 'id-token': 'write', attestations: 'write' } } : {}),
    strategy: { 'fail-fast': false, matrix: '${{ fromJSON(needs.plan.outputs.export) }}' },
    steps: [
      ...setup(true),
      ...venvCache(exportField('toolchains_key')),
      ...(config.cache.steps
        ? [uses(ACTIONS.cache, { name: "Step outputs (keyed by the plan's step keys)", if: '${{ matrix.cache_steps }}', with: { path: exportField('step_paths'), key: `phiforge-steps-\${{ runner.os }}-${exportField('steps_key')}` } })]
        : []),
      { name: 'Build the artifact', env: { RECIPE: exportField('recipe') }, run: `${phiforge} build "$RECIPE" --no-validate --out ${DIST}` },
      // Attested before signing, so that the attestation names exactly the artifact's own files.
      ...attest,
      ...sign,
      uses(ACTIONS.uploadArtifact, {
        name: 'Upload the artifact',
        with: { name: `${ARTIFACT_PREFIX}${exportField('artifact')}`, path: `${DIST}/`, 'if-no-files-found': 'error', 'retention-days': config.artifacts.retention_days, 'compression-level': 1 },
      }),
    ],
  };

  const validateJob: Job = {
    name: `validate ${validateField('artifact')} on ${validateField('device_class')}`,
    needs: ['plan', 'export'],
    // Every leg whose export succeeded runs although another recipe's export failed; a leg whose
    // own export failed fails at its download.
    if: "${{ !cancelled() && needs.plan.result == 'success' && needs.plan.outputs.validate_count != '0' }}",
    'runs-on': validateField('labels'),
    'timeout-minutes': timeouts.validate,
    strategy: { 'fail-fast': false, matrix: '${{ fromJSON(needs.plan.outputs.validate) }}' },
    steps: [
      ...setup(true),
      ...venvCache(validateField('toolchains_key')),
      uses(ACTIONS.downloadArtifact, { name: 'Download the artifact', with: { name: `${ARTIFACT_PREFIX}${validateField('artifact')}`, path: DIST } }),
      {
        name: 'Validate on this device class (only the runtime toolchain is installed)',
        env: { ARTIFACT: validateField('artifact'), DEVICE_CLASS: validateField('device_class') },
        run: `${phiforge} validate "${DIST}/$ARTIFACT" --device "$DEVICE_CLASS" --require-device --junit "${JUNIT_DIR}/$ARTIFACT-$DEVICE_CLASS.xml"`,
      },
      uses(ACTIONS.uploadArtifact, {
        name: "Upload this device's results",
        if: '${{ !cancelled() }}',
        with: {
          name: `${RESULTS_PREFIX}${validateField('artifact')}-${validateField('device_class')}`,
          path: `${DIST}/*/validation/*.json\n${JUNIT_DIR}/\n`,
          'if-no-files-found': 'warn',
          'retention-days': config.artifacts.retention_days,
        },
      }),
    ],
  };

  const publishing = config.publish.enabled;
  const reportJob: Job = {
    name: 'report',
    needs: ['plan', 'export', 'validate'],
    if: "${{ !cancelled() && needs.plan.result == 'success' && needs.plan.outputs.export_count != '0' }}",
    'runs-on': config.runners.default,
    'timeout-minutes': timeouts.report,
    ...(publishing ? { outputs: { publish: '${{ steps.publishable.outputs.publish }}', publish_count: '${{ steps.publishable.outputs.publish_count }}' } } : {}),
    steps: [
      ...setup(false),
      downloadArtifacts,
      uses(ACTIONS.downloadArtifact, { name: "Download every device's results", with: { pattern: `${RESULTS_PREFIX}*`, 'merge-multiple': true, path: '.' } }),
      { name: "Report every device's results", run: `${phiforge} report ${DIST}/* --html ${REPORT_DIR}/report.html --md ${REPORT_DIR}/report.md` },
      ...(publishing ? [{ name: 'Choose the artifacts whose validations all passed', id: 'publishable', run: `${phiforge} ci publishable ${DIST}/*${configArg}` }] : []),
      uses(ACTIONS.uploadArtifact, {
        name: 'Upload the report',
        if: '${{ !cancelled() }}',
        with: { name: REPORT_ARTIFACT, path: `${REPORT_DIR}/\n${JUNIT_DIR}/\n`, 'if-no-files-found': 'warn', 'retention-days': config.artifacts.retention_days },
      }),
    ],
  };

  const jobs: Record<string, Job> = { plan, export: exportJob, validate: validateJob, report: reportJob };
  if (publishing) {
    jobs.publish = {
      name: `publish ${publishField('artifact')}`,
      needs: 'report',
      // Only from the default branch or a tag, and only what passed on every device class.
      if: [
        '${{ !cancelled()',
        "needs.report.result == 'success'",
        "needs.report.outputs.publish_count != '0'",
        "github.event_name != 'pull_request'",
        "(github.ref == format('refs/heads/{0}', github.event.repository.default_branch) || startsWith(github.ref, 'refs/tags/')) }}",
      ].join(' && '),
      'runs-on': config.runners.default,
      'timeout-minutes': timeouts.publish,
      // Its protection rules (required reviewers, branches) hold back the job and its HF_TOKEN.
      environment: config.publish.environment,
      strategy: { 'fail-fast': false, matrix: '${{ fromJSON(needs.report.outputs.publish) }}' },
      steps: [
        ...setup(false),
        uses(ACTIONS.downloadArtifact, { name: 'Download the artifact', with: { name: `${ARTIFACT_PREFIX}${publishField('artifact')}`, path: DIST } }),
        uses(ACTIONS.downloadArtifact, { name: 'Download its results', with: { pattern: `${RESULTS_PREFIX}${publishField('artifact')}-*`, 'merge-multiple': true, path: '.' } }),
        {
          name: 'Publish to the Hugging Face Hub',
          // The token reaches phiforge through the environment only, never a command line.
          env: { HF_TOKEN: '${{ secrets.HF_TOKEN }}', ARTIFACT: publishField('artifact'), REPO: publishField('repo') },
          run: `${phiforge} publish "${DIST}/$ARTIFACT" --repo "$REPO" --revision ${shellWord(config.publish.revision)}${config.publish.private ? ' --private' : ''}`,
        },
      ],
    };
  }

  const watched = [...new Set([...patterns, ...(configFile ? [configFile] : []), config.workflow.file, ...config.phiforge.paths])];
  const workflow = {
    name: config.workflow.name,
    on: {
      // No branches with tags: pushed tags only (GitHub builds every branch when neither is given).
      push: { ...(config.workflow.branches.length ? { branches: config.workflow.branches } : {}), ...(config.workflow.tags.length ? { tags: config.workflow.tags } : {}), paths: watched },
      pull_request: { paths: watched },
      workflow_dispatch: {},
    },
    // Read-only by default: no job here writes to the repository; publishing uses HF_TOKEN, not GITHUB_TOKEN.
    permissions: { contents: 'read' },
    concurrency: { group: '${{ github.workflow }}-${{ github.ref }}', 'cancel-in-progress': "${{ github.event_name == 'pull_request' }}" },
    env: { PHIFORGE_CACHE: config.cache.dir },
    // bash everywhere, Windows runners included (Git for Windows' bash), so every step reads the same.
    defaults: { run: { shell: 'bash' } },
    jobs,
  };

  // Lists written once each: a shared one would become a YAML anchor and alias.
  const document = new Document(workflow, { aliasDuplicateObjects: false });
  const versions = new Map(Object.values(ACTIONS).map((action) => [usesOf(action), action.version]));
  visit(document, {
    Pair(_key, pair) {
      if (isPair(pair) && isScalar(pair.key) && pair.key.value === 'uses' && isScalar(pair.value)) pair.value.comment = ` ${versions.get(String(pair.value.value))}`;
    },
  });
  commentBefore(document, ['on', 'pull_request'], forkPullRequests(config));
  if (config.attest) {
    commentBefore(document, ['jobs', 'export', 'permissions'], [
      ' GitHub artifact attestations: the OIDC token they are signed with and the right to store them, in',
      ' this job only (the workflow stays read-only). A fork\'s pull request gets neither: it is not attested.',
      ' Verify a file: gh attestation verify <file> --repo <owner>/<repo>',
    ]);
  }
  const regenerate = ['phiforge ci github', ...patterns.map(shellWord), ...(configFile ? ['--config', shellWord(configFile)] : []), '--write', shellWord(config.workflow.file)].join(' ');
  document.commentBefore = [
    ` Generated by phiforge from ${configFile ?? 'its default CI configuration'}; do not edit: change the configuration and run`,
    `   ${regenerate}`,
    ' The plan job checks that this file is still what that command writes.',
    ' Adding a recipe needs no change here: the plan job expands the matrix (recipe x device class) on every run.',
  ].join('\n');
  return document;
}

/**
 * What keeps a fork's pull request off self-hosted runners, said where the workflow says it runs for
 * pull requests: the matrix leaves those legs out, but a fork's pull request runs the workflow file of
 * the pull request itself, which can say anything; only GitHub's settings hold.
 */
function forkPullRequests(config: CiConfig): string[] {
  return [
    " Pull requests from forks: `phiforge ci matrix` leaves out every leg on a self-hosted runner when the",
    ' pull request comes from another repository. No file can enforce that: a fork\'s pull request runs the',
    ' workflow file of the pull request itself. What keeps its code off your machines is GitHub\'s settings:',
    '   - Settings → Actions → General → "Fork pull request workflows from outside collaborators": require',
    '     approval for all outside collaborators, and read what a pull request changes before approving it;',
    '   - self-hosted runners in a runner group limited to this repository and to selected workflows,',
    `     <owner>/<repo>/${config.workflow.file}@<default branch> (runs for pull requests and tags cannot`,
    '     reach that group: set runners.self_hosted_pull_requests: false);',
    '   - and otherwise no self-hosted runners on a public repository.',
  ];
}

/** A comment on the lines before the key at `path` (a mapping key of the document). */
function commentBefore(document: Document, path: string[], lines: string[]): void {
  const map = document.getIn(path.slice(0, -1), true);
  const pair = isMap(map) ? map.items.find((item) => isScalar(item.key) && item.key.value === path[path.length - 1]) : undefined;
  if (!pair || !isScalar(pair.key)) throw new Error(`no key ${path.join('.')} in the workflow to comment on`);
  pair.key.commentBefore = lines.join('\n');
}

/** The workflow as the text of a .yml file. */
export function workflowYaml(input: WorkflowInput): string {
  return workflowDocument(input).toString({ lineWidth: 0 });
}
