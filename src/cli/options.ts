/**
 * Options several commands share, worded once: the workspace, the operator
 * name, `--json`, and defaults shown as they are typed (`(default: 20)`,
 * never `(default: "20")`).
 */
import { Option } from 'commander';

export const workspaceOption = (): Option => new Option('-w, --workspace <dir>', 'workspace folder (default: $MANDATE_WORKSPACE or the current folder)');

/** `--as <operator>`: who acts; `recordedWith` says where the name is kept, e.g. "the approval". */
export const operatorOption = (recordedWith: string): Option =>
  new Option('--as <operator>', `your operator name, recorded with ${recordedWith} (default: $MANDATE_OPERATOR, else your user name)`);

/** `--json`, one wording everywhere; `shape` names what the JSON holds when that helps. */
export const jsonOption = (shape?: string): Option => new Option('--json', `print the result as JSON${shape ? ` (${shape})` : ''} instead of text`);

/** An option with a default value, shown unquoted in --help. */
export const withDefault = (flags: string, description: string, value: string): Option => new Option(flags, description).default(value, value);
