"""A CrewAI FinOps agent whose only tools are Mandate's governed tools.

It runs under the `finops` responsibility contract of
examples/finops-workspace (contracts/finops.yaml): it may stop DEV instances;
PROD is forbidden by policy; STG waits for a human, who approves with
`mandate approvals approve <decision_id>` while the agent polls get_decision.

    pip install -r examples/crewai/requirements.txt
    node examples/finops-workspace/setup.mjs /tmp/finops-ws

    # stdio: CrewAI starts `mandate serve --stdio --agent finops`
    MANDATE_WORKSPACE=/tmp/finops-ws python examples/crewai/finops_crew.py

    # HTTP: a shared `mandate serve --http`, the agent named by its key
    MANDATE_TRANSPORT=http MANDATE_KEY=mdt_... python examples/crewai/finops_crew.py

CrewAI needs a model to choose the tool calls: set CREWAI_MODEL (default a
local Ollama model, ollama/qwen2.5:7b-instruct, so nothing leaves the machine).
Whatever it proposes, Mandate decides.
"""

import os
from pathlib import Path

from crewai import LLM, Agent, Crew, Process, Task
from crewai_tools import MCPServerAdapter
from mcp import StdioServerParameters

REPO = Path(__file__).resolve().parents[2]

# --- The Mandate MCP server, as CrewAI's MCP server adapter connects to it. ---
AGENT = "finops"
MANDATE_CLI = os.environ.get("MANDATE_CLI", str(REPO / "dist" / "src" / "cli" / "main.js"))
WORKSPACE = os.environ.get("MANDATE_WORKSPACE", "/tmp/finops-ws")
MCP_URL = os.environ.get("MANDATE_URL", "http://127.0.0.1:8080/mcp")

# stdio: the adapter starts the server; one server process serves one agent.
STDIO_SERVER = StdioServerParameters(
    command="node",
    args=[MANDATE_CLI, "serve", "--stdio", "--agent", AGENT, "-w", WORKSPACE],
    env={**os.environ, "MANDATE_LOG_LEVEL": "warn"},
)

# Streamable HTTP: the key (from `mandate keys create --agent finops`) names the agent.
HTTP_SERVER = {
    "url": MCP_URL,
    "transport": "streamable-http",
    "headers": {"Authorization": f"Bearer {os.environ.get('MANDATE_KEY', '')}"},
}

# Only the tools this crew needs; Mandate lists them for the `finops` contract.
TOOL_NAMES = ("cloud_list_instances", "cloud_stop_instance", "get_decision")


def main() -> None:
    server = HTTP_SERVER if os.environ.get("MANDATE_TRANSPORT") == "http" else STDIO_SERVER
    llm = LLM(model=os.environ.get("CREWAI_MODEL", "ollama/qwen2.5:7b-instruct"))
    with MCPServerAdapter(server, *TOOL_NAMES, connect_timeout=30) as tools:
        finops = Agent(
            role="FinOps engineer",
            goal="Cut cloud spend by stopping idle non-production instances.",
            backstory=(
                "You work under a responsibility contract enforced by Mandate. Every tool "
                "result carries a verdict: accepted, rejected (do not retry; read the reason "
                "codes) or escalated (a human decides; wait with get_decision and wait_seconds)."
            ),
            tools=tools,
            llm=llm,
            verbose=True,
        )
        task = Task(
            description=(
                "List the instances. Stop i-dev-web-1, i-stg-api-1 and i-prod-db-1. "
                "For an escalated stop, call get_decision with its decision_id and wait_seconds 30 "
                "until it is no longer pending. Report each verdict with its reason codes."
            ),
            expected_output="One line per instance: its verdict and reason codes.",
            agent=finops,
        )
        print(Crew(agents=[finops], tasks=[task], process=Process.sequential).kickoff())


if __name__ == "__main__":
    main()
