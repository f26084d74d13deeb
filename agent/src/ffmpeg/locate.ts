import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

export type FfmpegOrigin = 'env' | 'ffmpeg-static' | 'path';

export interface FfmpegTool {
  path: string;
  origin: FfmpegOrigin;
}

export interface FfmpegTools {
  ffmpeg: FfmpegTool;
  ffprobe: FfmpegTool;
}

const INSTALL_HINT =
  'Install ffmpeg (Debian/Ubuntu: `apt-get install -y ffmpeg`; macOS: `brew install ffmpeg`), ' +
  'or set FFMPEG_PATH and FFPROBE_PATH to the binaries.';

/** Raised when no usable ffmpeg/ffprobe binary exists; the message says how to get one. */
export class FfmpegNotFoundError extends Error {
  constructor(
    readonly tool: 'ffmpeg' | 'ffprobe',
    tried: string[],
  ) {
    super(`${tool} not found (looked at: ${tried.join('; ')}). ${INSTALL_HINT}`);
    this.name = 'FfmpegNotFoundError';
  }
}

export interface LocateOptions {
  env?: NodeJS.ProcessEnv;
  /** Resolves the ffmpeg-static binary path or null; injectable because that package rarely installs offline. */
  ffmpegStatic?: () => string | null;
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** The path exported by the optional `ffmpeg-static` package, if it installed and its binary exists. */
export function defaultFfmpegStatic(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const p = require('ffmpeg-static') as unknown;
    return typeof p === 'string' && isExecutable(p) ? p : null;
  } catch {
    return null;
  }
}

function locateOne(
  tool: 'ffmpeg' | 'ffprobe',
  env: NodeJS.ProcessEnv,
  fromStatic: () => string | null,
): FfmpegTool {
  const tried: string[] = [];
  const envName = tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH';
  const fromEnv = env[envName];
  if (fromEnv) {
    // An explicit setting that points nowhere is a configuration error, not a reason to guess.
    if (isExecutable(fromEnv)) return { path: fromEnv, origin: 'env' };
    throw new FfmpegNotFoundError(tool, [`${envName}=${fromEnv} (not an executable file)`]);
  }
  tried.push(`${envName} (unset)`);
  const staticFfmpeg = fromStatic();
  if (staticFfmpeg) {
    if (tool === 'ffmpeg') return { path: staticFfmpeg, origin: 'ffmpeg-static' };
    // ffmpeg-static ships only ffmpeg; an ffprobe beside it (as some bundles have) is preferred.
    const sibling = join(dirname(staticFfmpeg), 'ffprobe');
    if (isExecutable(sibling)) return { path: sibling, origin: 'ffmpeg-static' };
  }
  tried.push(staticFfmpeg ? `ffmpeg-static (${staticFfmpeg}, no ${tool})` : 'ffmpeg-static (not installed)');
  const found = onPath(tool, env);
  if (found) return { path: found, origin: 'path' };
  tried.push(`PATH (${tool} not on it)`);
  throw new FfmpegNotFoundError(tool, tried);
}

/**
 * Finds ffmpeg and ffprobe in the documented order: FFMPEG_PATH/FFPROBE_PATH, then the optional
 * ffmpeg-static package, then PATH. Throws FfmpegNotFoundError with install advice otherwise.
 */
export function locateFfmpeg(options: LocateOptions = {}): FfmpegTools {
  const env = options.env ?? process.env;
  const fromStatic = options.ffmpegStatic ?? defaultFfmpegStatic;
  return { ffmpeg: locateOne('ffmpeg', env, fromStatic), ffprobe: locateOne('ffprobe', env, fromStatic) };
}
