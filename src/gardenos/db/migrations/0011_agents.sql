-- The agents layer, second cut: the queue's leases and wake-ups, what agents produce (lead analyses,
-- embeddings of leads and clients), the agency's price list for proposals, and subscriptions fired from
-- database events, each once.

-- --- the durable queue ------------------------------------------------------------------------------

-- `agent_id`: the agent that ran the latest attempt (kept after it ends, for per-agent metrics);
-- `locked_by` is only set while a lease is held. An attempt is fenced by (id, locked_by, attempts): a
-- worker whose lease ran out and was given to another cannot complete the task any more.
ALTER TABLE public.agent_tasks
    ADD COLUMN agent_id uuid,
    ADD COLUMN heartbeat_at timestamptz;
-- The dead-letter view and the per-agent metrics.
CREATE INDEX agent_tasks_agency_status_idx ON public.agent_tasks (agency_id, status, finished_at DESC)
    WHERE status IN ('dead', 'failed', 'cancelled');
CREATE INDEX agent_tasks_agent_idx ON public.agent_tasks (agent_id, finished_at DESC) WHERE agent_id IS NOT NULL;
-- The claim query scans queued rows of a few types by priority; this one serves the depth counts too.
CREATE INDEX agent_tasks_queued_type_idx ON public.agent_tasks (agent_type, run_after) WHERE status = 'queued';

-- Workers LISTEN on this channel: whatever inserts tasks (an API request, the importer's COPY, a
-- subscription trigger) wakes them at commit, and only then, since NOTIFY is transactional.
CREATE FUNCTION gardenos.notify_agent_tasks() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gardenos_agent_tasks', t.agent_type)
    FROM (SELECT DISTINCT n.agent_type FROM new_tasks n WHERE n.status = 'queued') t;
    RETURN NULL;
END
$$;
CREATE TRIGGER agent_tasks_notify AFTER INSERT ON public.agent_tasks
    REFERENCING NEW TABLE AS new_tasks FOR EACH STATEMENT EXECUTE FUNCTION gardenos.notify_agent_tasks();

-- ai_agents: which worker process, and the last error of the agent, for /ai/status.
ALTER TABLE public.ai_agents ADD COLUMN pid integer, ADD COLUMN tasks_done bigint NOT NULL DEFAULT 0;

-- ai_interactions: which task attempt made the call.
ALTER TABLE public.ai_interactions ADD COLUMN attempt integer;

-- --- what agents write --------------------------------------------------------------------------------

-- Every analysis of a lead, newest last: the lead's `score` holds the latest quality score.
CREATE TABLE public.lead_analyses (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    lead_id uuid NOT NULL,
    task_id uuid REFERENCES public.agent_tasks (id) ON DELETE SET NULL,
    quality_score smallint NOT NULL CHECK (quality_score BETWEEN 0 AND 100),
    conversion_probability real NOT NULL CHECK (conversion_probability BETWEEN 0 AND 1),
    next_actions jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(next_actions) = 'array'),
    reasons jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(reasons) = 'array'),
    model text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lead_analyses_lead_fkey FOREIGN KEY (agency_id, lead_id)
        REFERENCES public.leads (agency_id, id) ON DELETE CASCADE
);
CREATE INDEX lead_analyses_lead_idx ON public.lead_analyses (lead_id, created_at DESC);
SELECT gardenos.enable_tenant_rls('public.lead_analyses');

-- One vector per lead or client, with the model that made it (a model change means re-embedding:
-- `gardenos ai reembed`). Kept out of the leads and clients tables so that `select=*` stays small.
CREATE TABLE public.record_embeddings (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    lead_id uuid,
    client_id uuid,
    embedding extensions.vector(384) NOT NULL,
    embedding_model text NOT NULL,
    content_hash text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT record_embeddings_one_subject CHECK (num_nonnulls(lead_id, client_id) = 1),
    CONSTRAINT record_embeddings_lead_key UNIQUE (lead_id),
    CONSTRAINT record_embeddings_client_key UNIQUE (client_id),
    CONSTRAINT record_embeddings_lead_fkey FOREIGN KEY (agency_id, lead_id)
        REFERENCES public.leads (agency_id, id) ON DELETE CASCADE,
    CONSTRAINT record_embeddings_client_fkey FOREIGN KEY (agency_id, client_id)
        REFERENCES public.clients (agency_id, id) ON DELETE CASCADE
);
CREATE INDEX record_embeddings_embedding_idx ON public.record_embeddings
    USING hnsw (embedding extensions.vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX record_embeddings_agency_model_idx ON public.record_embeddings (agency_id, embedding_model);
SELECT gardenos.enable_tenant_rls('public.record_embeddings');

-- The agency's price list: what the design agent quotes from.
CREATE TABLE public.price_list_items (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    sku text NOT NULL CHECK (length(btrim(sku)) BETWEEN 1 AND 64),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    description text,
    unit text NOT NULL DEFAULT 'unit',
    unit_price numeric(14, 2) NOT NULL CHECK (unit_price >= 0),
    currency text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    keywords text[] NOT NULL DEFAULT '{}',
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT price_list_items_sku_key UNIQUE (agency_id, sku)
);
CREATE TRIGGER price_list_items_updated_at BEFORE UPDATE ON public.price_list_items
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();
SELECT gardenos.enable_tenant_rls('public.price_list_items');

-- --- subscriptions ---------------------------------------------------------------------------------------

ALTER TABLE public.agent_subscriptions
    ADD CONSTRAINT agent_subscriptions_event_check
        CHECK (event IN ('lead.created', 'lead.status_changed', 'lead.stale')),
    ADD CONSTRAINT agent_subscriptions_agent_type_check
        CHECK (agent_type IN ('lead_analysis', 'follow_up', 'insight', 'design', 'embed'));

-- Each firing is a task whose idempotency key names the subscription and the event: the unique key
-- (agency_id, idempotency_key) makes it fire once however often the event is seen. SECURITY DEFINER: the
-- task is the agency's whatever role changed the lead (the importer, a person, an RPC). Bulk loaders may
-- turn it off for their transaction: SET LOCAL gardenos.subscriptions = 'off'.
CREATE FUNCTION gardenos.fire_lead_subscriptions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    event_name text;
    occurrence text;
BEGIN
    IF current_setting('gardenos.subscriptions', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        event_name := 'lead.created';
        occurrence := NEW.id::text;
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        event_name := 'lead.status_changed';
        occurrence := NEW.id::text || ':' || NEW.status || ':' || extract(epoch FROM NEW.updated_at)::text;
    ELSE
        RETURN NULL;
    END IF;
    INSERT INTO public.agent_tasks (agency_id, agent_type, priority, payload, idempotency_key)
    SELECT s.agency_id, s.agent_type, coalesce((s.config ->> 'priority')::smallint, 5),
           jsonb_build_object('lead_id', NEW.id, 'event', event_name, 'subscription_id', s.id,
                              'status', NEW.status),
           'sub:' || s.id || ':' || occurrence
    FROM public.agent_subscriptions s
    WHERE s.agency_id = NEW.agency_id AND s.event = event_name AND s.enabled
    ON CONFLICT ON CONSTRAINT agent_tasks_idempotency_key DO NOTHING;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION gardenos.fire_lead_subscriptions() FROM PUBLIC;
CREATE TRIGGER leads_fire_subscriptions AFTER INSERT OR UPDATE OF status ON public.leads
    FOR EACH ROW EXECUTE FUNCTION gardenos.fire_lead_subscriptions();

-- Follow-up drafts are mailed, once a person approves them, by whichever mailer is configured.
ALTER TABLE gardenos.mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE gardenos.mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('confirmation', 'magic_link', 'otp', 'recovery', 'email_change', 'invite', 'follow_up'));
