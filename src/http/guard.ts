/**
 * DNS-rebinding protection: a browser tricked into sending requests to this
 * server sends a foreign Host (the attacker's name) or a foreign Origin. The
 * SDK checks Host only; both are checked here, on every route but the
 * health probes.
 */
export interface OriginGuard {
  hostAllowed(host: string | undefined): boolean;
  originAllowed(origin: string | undefined): boolean;
  /** The allow-lists, for the start-up log. */
  readonly hosts: readonly string[];
  readonly origins: readonly string[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const ANY = new Set(['0.0.0.0', '::', '[::]']);

export interface GuardOptions {
  host: string;
  port: number;
  publicUrl?: string | undefined;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function createOriginGuard(o: GuardOptions): OriginGuard {
  const hosts = new Set<string>();
  if (!ANY.has(o.host)) hosts.add(`${bracket(o.host)}:${o.port}`.toLowerCase());
  // On loopback (and on every interface) the loopback names are this machine.
  if (LOOPBACK.has(o.host) || ANY.has(o.host)) for (const h of ['127.0.0.1', 'localhost', '[::1]']) hosts.add(`${h}:${o.port}`);
  for (const h of o.allowedHosts) hosts.add(h.toLowerCase());
  const origins = new Set<string>([...hosts].map((h) => `http://${h}`));
  if (o.publicUrl) {
    const url = new URL(o.publicUrl);
    hosts.add(url.host.toLowerCase());
    origins.add(url.origin.toLowerCase());
  }
  for (const origin of o.allowedOrigins) origins.add(new URL(origin).origin.toLowerCase());
  return {
    hosts: [...hosts],
    origins: [...origins],
    hostAllowed: (host) => host !== undefined && hosts.has(host.toLowerCase()),
    // Clients that are not browsers send no Origin; a browser always does on a cross-site request.
    originAllowed: (origin) => origin === undefined || origins.has(origin.toLowerCase()),
  };
}
