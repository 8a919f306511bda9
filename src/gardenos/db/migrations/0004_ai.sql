-- The AI layer's state: agent instances, the durable task queue, memory with embeddings, proactive
-- subscriptions, and a record of every model call. First cut; the agents issue extends it.

-- Agent instances are the platform's own (workers of every tenant), visible to service_role only.
CREATE TABLE public.ai_agents (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agent_type text NOT NULL,
    worker text NOT NULL,
    status text NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'busy', 'draining', 'stopped')),
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz
);
CREATE INDEX ai_agents_type_idx ON public.ai_agents (agent_type) WHERE stopped_at IS NULL;
ALTER TABLE public.ai_agents ENABLE ROW LEVEL SECURITY;
GRANT ALL ON public.ai_agents TO service_role;

CREATE TABLE public.agent_tasks (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    agent_type text NOT NULL,
    priority smallint NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 9),
    payload jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_retries integer NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
    run_after timestamptz NOT NULL DEFAULT now(),
    locked_by uuid,
    lease_expires_at timestamptz,
    idempotency_key text,
    result jsonb,
    last_error text,
    created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agent_tasks_idempotency_key UNIQUE (agency_id, idempotency_key)
);
-- The claim query: highest priority first, oldest first, among runnable tasks.
CREATE INDEX agent_tasks_claim_idx ON public.agent_tasks (agent_type, priority DESC, run_after, id)
    WHERE status = 'queued';
CREATE INDEX agent_tasks_lease_idx ON public.agent_tasks (lease_expires_at) WHERE status = 'running';
CREATE INDEX agent_tasks_agency_created_idx ON public.agent_tasks (agency_id, created_at DESC);
CREATE TRIGGER agent_tasks_updated_at BEFORE UPDATE ON public.agent_tasks
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();
SELECT gardenos.enable_tenant_rls('public.agent_tasks');

CREATE TABLE public.agent_memory (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    subject_type text NOT NULL CHECK (subject_type IN ('agency', 'lead', 'client')),
    subject_id uuid,
    content text NOT NULL,
    embedding extensions.vector(384),
    embedding_model text,
    source text NOT NULL DEFAULT 'agent' CHECK (source IN ('agent', 'person', 'system')),
    created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agent_memory_subject CHECK ((subject_type = 'agency') = (subject_id IS NULL))
);
CREATE INDEX agent_memory_subject_idx ON public.agent_memory (agency_id, subject_type, subject_id, created_at DESC);
CREATE INDEX agent_memory_embedding_idx ON public.agent_memory
    USING hnsw (embedding extensions.vector_cosine_ops);
SELECT gardenos.enable_tenant_rls('public.agent_memory');

CREATE TABLE public.agent_subscriptions (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    event text NOT NULL,
    agent_type text NOT NULL,
    config jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    enabled boolean NOT NULL DEFAULT true,
    created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_subscriptions_event_idx ON public.agent_subscriptions (agency_id, event) WHERE enabled;
CREATE TRIGGER agent_subscriptions_updated_at BEFORE UPDATE ON public.agent_subscriptions
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();
SELECT gardenos.enable_tenant_rls('public.agent_subscriptions');

CREATE TABLE public.ai_interactions (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    agent_type text NOT NULL,
    agent_id uuid,
    task_id uuid REFERENCES public.agent_tasks (id) ON DELETE SET NULL,
    input jsonb NOT NULL,
    output jsonb,
    model text NOT NULL,
    prompt_tokens integer NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens integer NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    cost_usd numeric(12, 6) NOT NULL DEFAULT 0,
    latency_ms integer CHECK (latency_ms >= 0),
    outcome text NOT NULL CHECK (outcome IN ('ok', 'invalid_output', 'error', 'timeout')),
    error text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ai_interactions_agency_created_idx ON public.ai_interactions (agency_id, created_at DESC);
CREATE INDEX ai_interactions_task_idx ON public.ai_interactions (task_id) WHERE task_id IS NOT NULL;
SELECT gardenos.enable_tenant_rls('public.ai_interactions');
