import path from 'node:path';
import { publishToHub, type PublishReport } from '../../app/publish.js';
import { describeTrust, trustJson } from '../../app/trust.js';
import { trustedKeys } from '../../artifact/keys.js';
import type { Context } from '../../context.js';
import { useSimpleRenderer } from '../../engine/build.js';
import type { UploadPhase, UploadProgress } from '../../hub/upload.js';
import type { Arguments } from '../arguments.js';

/** 512 B, 48.0 KiB, 1.8 MiB, 2.3 GiB. */
function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const power = bytes < 1024 ? 0 : Math.min(units.length - 1, Math.floor(Math.log2(bytes) / 10));
  return power === 0 ? `${bytes} B` : `${(bytes / 2 ** (10 * power)).toFixed(1)} ${units[power]}`;
}

const PHASES: Record<UploadPhase, string> = {
  repository: 'checking the repository (creating it when missing)',
  preparing: 'asking the Hub which files go through LFS',
  hashing: 'hashing the large files',
  uploading: 'uploading',
  committing: 'committing',
};

/**
 * Upload progress on stderr: one line redrawn in place on a terminal, plain lines at each phase and
 * every quarter of the bytes elsewhere (CI logs, pipes), as the build's progress does.
 */
function progressReporter(context: Context): { update: (progress: UploadProgress) => void; end: () => void } {
  const redraw = !useSimpleRenderer();
  let lastPhase: UploadPhase | undefined;
  let announcedTotal = false;
  let lastQuarter = 0;
  let lastDraw = 0;
  let drawn = false;
  const bar = (sent: number, total: number) => {
    const width = 24;
    const filled = total > 0 ? Math.min(width, Math.round((sent / total) * width)) : width;
    return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${size(sent)} / ${size(total)}`;
  };
  return {
    update(progress) {
      const total = progress.bytesToSend;
      if (redraw) {
        const now = Date.now();
        if (progress.phase === lastPhase && now - lastDraw < 100 && progress.sentBytes !== total) return;
        lastDraw = now;
        lastPhase = progress.phase;
        const text = progress.phase === 'uploading' && total !== undefined ? `uploading ${bar(progress.sentBytes, total)}` : PHASES[progress.phase];
        process.stderr.write(`\r\x1b[2K${text}`);
        drawn = true;
        return;
      }
      if (progress.phase !== lastPhase && progress.phase !== 'uploading') context.say(PHASES[progress.phase]);
      lastPhase = progress.phase;
      if (progress.phase !== 'uploading' || total === undefined) return;
      if (!announcedTotal) {
        announcedTotal = true;
        context.say(`uploading ${size(total)} of LFS objects`);
      }
      const quarter = total > 0 ? Math.floor((progress.sentBytes / total) * 4) : 4;
      if (quarter > lastQuarter && total > 0) {
        lastQuarter = quarter;
        context.say(`  ${size(progress.sentBytes)} / ${size(total)} (${quarter * 25} %)`);
      }
    },
    end() {
      if (drawn) process.stderr.write('\r\x1b[2K');
    },
  };
}

function describeFiles(report: PublishReport): string[] {
  const width = Math.max(...report.files.map((file) => size(file.size).length));
  return [...report.files.map((file) => `  ${size(file.size).padStart(width)}  ${file.path}`), `  ${report.files.length} files, ${size(report.totalBytes)}`];
}

export async function run(context: Context, args: Arguments): Promise<number> {
  const artifact = args.artifact as string;
  const dryRun = Boolean(args['dry-run']);
  // Key files are read first: a bad one is bad input (exit 2) before the artifact is read.
  const trusted = await trustedKeys(args['require-signature'] as string[] | undefined);
  const progress = progressReporter(context);
  if (!dryRun) context.say(`publishing ${artifact} to ${args.repo}@${args.revision}`);
  let report: PublishReport;
  try {
    report = await publishToHub(artifact, {
      repo: String(args.repo),
      revision: String(args.revision),
      private: Boolean(args.private),
      dryRun,
      message: args.message as string | undefined,
      allowUnvalidated: Boolean(args['allow-unvalidated']),
      trusted,
      onTrust: (trust) => {
        for (const line of describeTrust(trust)) context.say(`${artifact}: ${line}`);
      },
      onProgress: progress.update,
      onUnvalidated: (reasons) => context.say(`warning: publishing without a passing validation (--allow-unvalidated): ${reasons.join('; ')}`),
    });
  } finally {
    progress.end();
  }
  const card = path.relative(process.cwd(), report.cardFile) || report.cardFile;
  const upload = report.upload;
  if (context.json) {
    context.print(
      JSON.stringify(
        {
          ok: true,
          artifact: report.artifact,
          repo: report.repo,
          revision: report.revision,
          dry_run: report.dryRun,
          validated: report.validated,
          ...(report.validated ? {} : { not_validated_because: report.notValidatedBecause }),
          files: report.files,
          total_bytes: report.totalBytes,
          card_file: card,
          trust: trustJson(report.trust),
          ...(report.dryRun ? { card: report.card } : {}),
          ...(upload
            ? { commit: { id: upload.commit.oid, url: upload.commit.url }, created_repository: upload.createdRepository, created_branch: upload.createdBranch, regular_files: upload.regularFiles, lfs: upload.lfs }
            : {}),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  if (report.dryRun) {
    context.print([`dry run: would publish ${report.artifact} to ${report.repo}@${report.revision} (nothing was sent):`, ...describeFiles(report), '', `model card (written to ${card}):`, '', report.card].join('\n'));
    return 0;
  }
  const lfs = upload!.lfs;
  if (upload!.createdRepository) context.say(`created the ${args.private ? 'private ' : ''}repository ${report.repo}`);
  else if (args.private) context.say(`${report.repo} existed already: --private applies only to a new repository, its visibility is unchanged`);
  context.print(
    [
      `published ${report.artifact} to ${report.repo}@${report.revision}`,
      `  commit ${upload!.commit.oid}`,
      `  ${upload!.commit.url}`,
      `  ${report.files.length} files, ${size(report.totalBytes)}: ${upload!.regularFiles} committed inline, ${lfs.files} through LFS (${lfs.sent.files} sent, ${size(lfs.sent.bytes)}; ${lfs.alreadyThere.files} already on the Hub, ${size(lfs.alreadyThere.bytes)} not sent again)`,
      `  model card: ${card}`,
    ].join('\n'),
  );
  return 0;
}
