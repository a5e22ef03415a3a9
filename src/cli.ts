#!/usr/bin/env node
import { COMMANDS, usage } from './cli/commands.js';

/** `auth-shim <command> [flags]`: one binary, one image, every mode. */
const [name, ...args] = process.argv.slice(2);
const command = name === undefined ? undefined : COMMANDS[name];
if (command === undefined) {
  const help = name === undefined || name === '--help' || name === '-h' || name === 'help';
  (help ? process.stdout : process.stderr).write(`${usage()}\n`);
  process.exitCode = help ? 0 : 2;
} else {
  command.run(args).then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`auth-shim ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
