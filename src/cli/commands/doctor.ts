import { loadConfig } from '../../config/load-workspace.js';
import { ConfigError } from '../../config/problems.js';
import { probeOllama, type ProbeResult } from '../../normalize/ollama.js';
import { EXIT, printJson, workspaceDir } from '../common.js';

/**
 * Checks what free-text intents need: that the Ollama server in mandate.yaml
 * answers (`GET /api/tags`) and that every model of the routing table is
 * pulled. Exit 0 when all is well, 1 otherwise, 2 when mandate.yaml is invalid.
 */
export async function doctorCommand(opts: { workspace?: string; json?: boolean }): Promise<number> {
  const dir = workspaceDir(opts.workspace);
  const { config, problems } = loadConfig(dir);
  if (!config) throw new ConfigError(problems);
  const n = config.normalizer;
  if (!n) {
    if (opts.json) printJson({ ok: false, normalizer: null });
    else {
      process.stdout.write(
        'normalizer: not configured in mandate.yaml\n' +
          '  free-text intents (submit_intent with `text`) are refused with NORMALIZER_UNAVAILABLE; structured intents are unaffected.\n' +
          '  to enable them, add a `normalizer:` block (see the README, "Free-text intents") and run `mandate doctor` again.\n',
      );
    }
    return EXIT.failed;
  }
  const probe = await probeOllama(n);
  if (opts.json) {
    printJson({ ...probe, normalizer: { route: n.route, challenger: n.challenger } });
    return probe.ok ? EXIT.ok : EXIT.failed;
  }
  process.stdout.write(report(probe, n.challenger.enabled));
  return probe.ok ? EXIT.ok : EXIT.failed;
}

function report(p: ProbeResult, challenger: boolean): string {
  const lines: string[] = [];
  lines.push(`ollama: ${p.host} ${p.reachable ? `reachable, ${p.models.length} model(s) pulled` : `UNREACHABLE: ${p.error ?? 'unknown error'}`}`);
  for (const r of p.routes) {
    const state = !p.reachable ? 'unknown' : r.pulled ? 'pulled' : 'MISSING';
    const use = r.used_by.length ? `  (used by ${r.used_by.join(', ')})` : '';
    lines.push(`route ${r.route} -> ${r.model}: ${state}${use}${p.reachable && !r.pulled ? `\n  fix: ollama pull ${r.model}` : ''}`);
  }
  lines.push(`challenger: ${challenger ? 'enabled' : 'off'}`);
  if (!p.reachable) lines.push('fix: start Ollama (`ollama serve`) or correct normalizer.host in mandate.yaml');
  lines.push(p.ok ? 'ok: free-text intents can be normalised' : 'not ok: free-text intents will be refused with NORMALIZER_UNAVAILABLE until this is fixed');
  return `${lines.join('\n')}\n`;
}
