// node:fs is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:fs.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

import fsPromises from "./fs/promises.js";

const module = unsupportedModule("fs", [
  "Dir", "Dirent", "FileReadStream", "FileWriteStream", "ReadStream", "Stats", "WriteStream",
  "_toUnixTimestamp", "access", "accessSync", "appendFile", "appendFileSync", "chmod", "chmodSync",
  "chown", "chownSync", "close", "closeSync", "copyFile", "copyFileSync", "cp", "cpSync",
  "createReadStream", "createWriteStream", "exists", "existsSync", "fchmod", "fchmodSync",
  "fchown", "fchownSync", "fdatasync", "fdatasyncSync", "fstat", "fstatSync", "fsync", "fsyncSync",
  "ftruncate", "ftruncateSync", "futimes", "futimesSync", "lchown", "lchownSync", "link",
  "linkSync", "lstat", "lstatSync", "lutimes", "lutimesSync", "mkdir", "mkdirSync", "mkdtemp",
  "mkdtempSync", "open", "openAsBlob", "openSync", "opendir", "opendirSync", "read", "readFile",
  "readFileSync", "readSync", "readdir", "readdirSync", "readlink", "readlinkSync", "readv",
  "readvSync", "realpath", "realpathSync", "rename", "renameSync", "rm", "rmSync", "rmdir",
  "rmdirSync", "stat", "statSync", "statfs", "statfsSync", "symlink", "symlinkSync", "truncate",
  "truncateSync", "unlink", "unlinkSync", "unwatchFile", "utimes", "utimesSync", "watch",
  "watchFile", "write", "writeFile", "writeFileSync", "writeSync", "writev", "writevSync",
], {
  F_OK: 0,
  R_OK: 4,
  W_OK: 2,
  X_OK: 1,
  // The same object as node:fs/promises' constants, as in Node.
  constants: fsPromises.constants,
  lchmod: undefined,
  lchmodSync: undefined,
  promises: fsPromises,
});

export const {
  Dir, Dirent, F_OK, FileReadStream, FileWriteStream, R_OK, ReadStream, Stats, W_OK, WriteStream,
  X_OK, _toUnixTimestamp, access, accessSync, appendFile, appendFileSync, chmod, chmodSync, chown,
  chownSync, close, closeSync, constants, copyFile, copyFileSync, cp, cpSync, createReadStream,
  createWriteStream, exists, existsSync, fchmod, fchmodSync, fchown, fchownSync, fdatasync,
  fdatasyncSync, fstat, fstatSync, fsync, fsyncSync, ftruncate, ftruncateSync, futimes,
  futimesSync, lchmod, lchmodSync, lchown, lchownSync, link, linkSync, lstat, lstatSync, lutimes,
  lutimesSync, mkdir, mkdirSync, mkdtemp, mkdtempSync, open, openAsBlob, openSync, opendir,
  opendirSync, promises, read, readFile, readFileSync, readSync, readdir, readdirSync, readlink,
  readlinkSync, readv, readvSync, realpath, realpathSync, rename, renameSync, rm, rmSync, rmdir,
  rmdirSync, stat, statSync, statfs, statfsSync, symlink, symlinkSync, truncate, truncateSync,
  unlink, unlinkSync, unwatchFile, utimes, utimesSync, watch, watchFile, write, writeFile,
  writeFileSync, writeSync, writev, writevSync,
} = module;
export default module;
