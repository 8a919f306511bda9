"""The agent types GardenOS runs, by name."""

from __future__ import annotations

from gardenos.agents.base import BaseAIAgent
from gardenos.agents.kinds.design import DesignAgent
from gardenos.agents.kinds.echo import EchoAgent
from gardenos.agents.kinds.embed import EmbedAgent
from gardenos.agents.kinds.follow_up import FollowUpAgent
from gardenos.agents.kinds.insight import InsightAgent
from gardenos.agents.kinds.lead_analysis import LeadAnalysisAgent
from gardenos.agents.kinds.support import SupportAgent

AGENTS: dict[str, type[BaseAIAgent]] = {
    cls.agent_type: cls
    for cls in (
        LeadAnalysisAgent,
        FollowUpAgent,
        SupportAgent,
        InsightAgent,
        DesignAgent,
        EmbedAgent,
        EchoAgent,
    )
}
