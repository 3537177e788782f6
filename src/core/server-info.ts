/** Who Mandate says it is: on both MCP wires, to tracing (service.version) and to `--version`. */
export const SERVER_INFO = { name: 'mandate', version: '0.1.0' };
