/** Finding the host tools kasync runs (qemu, depmod, mkfs, apt-get…). */
import * as fs from 'fs';
import * as path from 'path';

/**
 * Where an executable is, or undefined: a name with a '/' as given, else the first match in PATH,
 * then in the sbin and bin directories (root's tools such as depmod live in /usr/sbin, which a
 * user's PATH may lack).
 */
export function findExecutable(cmd: string): string | undefined {
  const dirs = cmd.includes('/') ? [''] : [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter(Boolean);
  for (const d of dirs) {
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}
