-- tests/integration/fixture.sql -- a database that exercises what a logical round
-- trip (pg_dump -Fc -> coffre -> pg_restore) must preserve.
--
--   psql -X -q -v ON_ERROR_STOP=1 -d fixture -f fixture.sql      (as a superuser)
--
-- Deterministic: no random(), no now(), fixed large object OIDs, so the output of
-- fingerprint.sql is the same on every load.  About 10,000 rows in all.
--
-- Schemas are self-contained (no foreign key or type crosses a schema), so each of
-- them can also be dumped and restored alone (managed formula, --schema):
--   app       enum, domain, function, identity and serial columns, STORED generated
--             columns, check/unique/foreign keys, jsonb with GIN index, arrays
--             (int[], text[], float4[] embeddings), bytea with \x00, NULLs, a view,
--             a populated materialized view, a range-partitioned table (3 partitions),
--             sequences (advanced, setval'd, is_called = false), a table with a dropped
--             column, a table without primary key holding duplicate rows, an empty
--             table, a mixed-case table name with a space, a trigger, comments.
--   données   non-ASCII schema/table/column names ("clients_é"."prénom"), unicode text.
--   billing   a second tenant-like schema with its own sequence and foreign key.
--   public    a table of large object references.
-- Database-wide: 4 large objects (one empty, one with a comment).

SET client_min_messages = warning;
SET TimeZone = 'UTC';

CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'application schema';
CREATE SCHEMA "données";
COMMENT ON SCHEMA "données" IS 'schéma aux noms accentués';
CREATE SCHEMA billing;

-- ---------------------------------------------------------------- types, functions

CREATE TYPE app.status AS ENUM ('draft', 'active', 'suspended', 'archived');
CREATE DOMAIN app.email AS text CHECK (VALUE ~ '^[^@ ]+@[^@ ]+$');
CREATE TYPE app.money_pair AS (amount numeric(12,2), currency char(3));
COMMENT ON TYPE app.status IS 'customer lifecycle';

CREATE FUNCTION app.slug(txt text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT trim(both '-' from lower(regexp_replace(txt, '[^a-zA-Z0-9]+', '-', 'g'))) $$;
COMMENT ON FUNCTION app.slug(text) IS 'url-friendly name';

CREATE FUNCTION app.touch_updated() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN NEW.revision := OLD.revision + 1; RETURN NEW; END $$;

-- ---------------------------------------------------------------- app

CREATE TABLE app.customers (
    id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name      text NOT NULL CHECK (length(name) > 0),
    email     app.email UNIQUE,
    status    app.status NOT NULL DEFAULT 'active',
    tags      text[],
    profile   jsonb,
    since     date NOT NULL,
    slug      text GENERATED ALWAYS AS (app.slug(name)) STORED,
    note      text,
    revision  integer NOT NULL DEFAULT 1
);
COMMENT ON TABLE app.customers IS 'one row per customer';
COMMENT ON COLUMN app.customers.slug IS 'generated from name';
CREATE INDEX customers_profile_gin ON app.customers USING gin (profile);
CREATE TRIGGER customers_touch BEFORE UPDATE ON app.customers
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated();

INSERT INTO app.customers (name, email, status, tags, profile, since, note)
SELECT format('Customer %s %s', i, substr(md5(i::text), 1, 6)),
       CASE WHEN i % 10 = 0 THEN NULL ELSE format('user%s@example.%s', i, (ARRAY['fr','com','org'])[1 + i % 3]) END,
       (ARRAY['draft','active','active','suspended','archived']::app.status[])[1 + i % 5],
       CASE WHEN i % 7 = 0 THEN NULL
            WHEN i % 7 = 1 THEN '{}'::text[]
            ELSE ARRAY['t' || (i % 3), 'région ' || (i % 5), 'quote''s "and" {braces}'] END,
       CASE WHEN i % 11 = 0 THEN NULL
            ELSE jsonb_build_object('plan', (ARRAY['standard','souveraine'])[1 + i % 2],
                                    'seats', i % 50,
                                    'ratio', (i % 1000) / 7.0,
                                    'nested', jsonb_build_object('a', jsonb_build_array(i, 'x', NULL, true)),
                                    'unicode', 'é€😀',
                                    'null', NULL) END,
       date '2020-01-01' + (i * 3),
       CASE WHEN i % 4 = 0 THEN NULL
            WHEN i % 4 = 1 THEN E'line 1\nline 2\ttab \\ backslash'
            WHEN i % 4 = 2 THEN ''
            ELSE repeat('long note ', 300) END
FROM generate_series(1, 500) AS i;
-- exercise the trigger: revisions > 1 for some rows
UPDATE app.customers SET note = coalesce(note, '') || ' (updated)' WHERE id % 50 = 0;

CREATE TABLE app.orders (
    id           bigserial PRIMARY KEY,
    customer_id  integer NOT NULL REFERENCES app.customers (id) ON DELETE CASCADE,
    amount       numeric(12,2) NOT NULL CHECK (amount >= 0),
    qty          integer NOT NULL DEFAULT 1,
    total        numeric GENERATED ALWAYS AS (amount * qty) STORED,
    placed_on    date NOT NULL,
    placed_at    timestamptz NOT NULL,
    price        app.money_pair
);
CREATE INDEX orders_placed_on_idx ON app.orders (placed_on);
CREATE INDEX orders_customer_idx ON app.orders (customer_id, placed_on DESC);

INSERT INTO app.orders (customer_id, amount, qty, placed_on, placed_at, price)
SELECT 1 + (i * 7) % 500,
       ((i * 7919) % 100000) / 100.0,
       1 + i % 9,
       date '2023-01-01' + (i % 365),
       timestamptz '2023-01-01 00:00:00+00' + i * interval '17 minutes 3.25 seconds',
       CASE WHEN i % 13 = 0 THEN NULL ELSE ROW(((i * 31) % 10000) / 100.0, 'EUR')::app.money_pair END
FROM generate_series(1, 3000) AS i;

CREATE TABLE app.documents (
    id         integer PRIMARY KEY,
    title      text NOT NULL,
    body       text,
    blob       bytea,
    embedding  float4[],
    scores     integer[],
    matrix     integer[][],
    ratio      double precision,
    flags      bit varying(16),
    uid        uuid,
    span       tsrange
);
INSERT INTO app.documents
SELECT i,
       format('Document n°%s — « %s »', i, (ARRAY['Résumé','Übersicht','概要','Обзор','سجل'])[1 + i % 5]),
       CASE WHEN i % 17 = 0 THEN NULL ELSE repeat(md5(i::text) || ' ', 1 + i % 40) END,
       CASE WHEN i % 19 = 0 THEN NULL
            WHEN i % 19 = 1 THEN ''::bytea
            ELSE '\x00'::bytea || decode(repeat(md5(i::text), 1 + i % 30), 'hex') || '\x0000ff00'::bytea END,
       ARRAY(SELECT (((i * 7919 + j * 104729) % 20011) / 20011.0 - 0.5)::float4
             FROM generate_series(1, 32) AS j),
       ARRAY[i, -i, i * i, NULL],
       ARRAY[[i, i + 1], [i + 2, i + 3]],
       CASE i % 5 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN 'Infinity' WHEN 2 THEN '-0'
                  ELSE i / 3.0 END,
       (i % 65536)::bit(16)::varbit,
       md5('uuid' || i)::uuid,
       tsrange(timestamp '2024-01-01' + i * interval '1 hour', timestamp '2024-01-01' + i * interval '2 hours')
FROM generate_series(1, 200) AS i;

-- range-partitioned by day, three monthly partitions
CREATE TABLE app.events (
    id       bigint NOT NULL,
    day      date NOT NULL,
    kind     text NOT NULL,
    payload  jsonb,
    PRIMARY KEY (id, day)
) PARTITION BY RANGE (day);
CREATE TABLE app.events_2024_01 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE app.events_2024_02 PARTITION OF app.events FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE app.events_2024_03 PARTITION OF app.events FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
CREATE INDEX events_kind_idx ON app.events (kind);
INSERT INTO app.events
SELECT i, date '2024-01-01' + (i % 91), (ARRAY['login','logout','backup','restore'])[1 + i % 4],
       jsonb_build_object('n', i, 'ok', i % 3 <> 0)
FROM generate_series(1, 3000) AS i;

-- sequences: advanced, setval'd, not called yet
CREATE SEQUENCE app.invoice_seq START 100 INCREMENT 5;
SELECT nextval('app.invoice_seq') FROM generate_series(1, 7);
CREATE SEQUENCE app.ticket_seq;
SELECT setval('app.ticket_seq', 1000);
CREATE SEQUENCE app.fresh_seq MINVALUE -100 START -10 INCREMENT -1 CYCLE;
SELECT setval('app.fresh_seq', 42 - 100, false);
CREATE SEQUENCE app.untouched_seq;

-- a dropped column (pg_dump must not resurrect it, row text must match)
CREATE TABLE app.settings (key text PRIMARY KEY, obsolete integer, value text NOT NULL);
INSERT INTO app.settings SELECT 'key' || i, i, 'value ' || i FROM generate_series(1, 50) AS i;
ALTER TABLE app.settings DROP COLUMN obsolete;

-- no primary key, duplicate rows (a multiset, not a set)
CREATE TABLE app.audit_log (who text, what text, n integer);
INSERT INTO app.audit_log SELECT 'admin', 'login', i % 3 FROM generate_series(1, 30) AS i;
INSERT INTO app.audit_log VALUES (NULL, NULL, NULL), (NULL, NULL, NULL);

CREATE TABLE app.empty_table (id integer PRIMARY KEY, v text);

CREATE TABLE app."Order Lines" ("Line No" integer PRIMARY KEY, "SKU" text, "quantité" numeric);
INSERT INTO app."Order Lines" SELECT i, 'SKU-' || lpad(i::text, 5, '0'), i / 4.0 FROM generate_series(1, 100) AS i;

CREATE VIEW app.active_customers AS
    SELECT id, name, email FROM app.customers WHERE status = 'active';
COMMENT ON VIEW app.active_customers IS 'customers currently active';

CREATE MATERIALIZED VIEW app.customer_totals AS
    SELECT c.id, c.name, count(o.id) AS n_orders, coalesce(sum(o.total), 0) AS total
    FROM app.customers c LEFT JOIN app.orders o ON o.customer_id = c.id
    GROUP BY c.id, c.name;
CREATE UNIQUE INDEX customer_totals_id ON app.customer_totals (id);

-- ---------------------------------------------------------------- données

CREATE TABLE "données"."clients_é" (
    id        serial PRIMARY KEY,
    "prénom"  text NOT NULL,
    nom       text,
    ville     text,
    "données" jsonb
);
COMMENT ON COLUMN "données"."clients_é"."prénom" IS 'prénom usuel';
INSERT INTO "données"."clients_é" ("prénom", nom, ville, "données")
SELECT (ARRAY['Zoë','François','Chloé','Jürgen','Åsa','Đorđe','İlkay','Σωκράτης','美咲','Nguyễn'])[1 + i % 10],
       CASE WHEN i % 9 = 0 THEN NULL ELSE 'Nom-' || i END,
       (ARRAY['Besançon','Orléans','Saint-Étienne','Zürich','Kraków','東京','Montréal'])[1 + i % 7],
       jsonb_build_object('emoji', '🦊🍷', 'i', i)
FROM generate_series(1, 300) AS i;
CREATE SEQUENCE "données"."compteur_été";
SELECT nextval('"données"."compteur_été"') FROM generate_series(1, 3);

-- ---------------------------------------------------------------- billing

CREATE TABLE billing.accounts (id integer PRIMARY KEY, holder text NOT NULL);
CREATE TABLE billing.invoices (
    id          integer GENERATED BY DEFAULT AS IDENTITY (START WITH 1000) PRIMARY KEY,
    account_id  integer NOT NULL REFERENCES billing.accounts (id),
    amount      numeric(14,2) NOT NULL,
    issued      date NOT NULL,
    paid        boolean
);
INSERT INTO billing.accounts SELECT i, 'holder ' || i FROM generate_series(1, 40) AS i;
INSERT INTO billing.invoices (account_id, amount, issued, paid)
SELECT 1 + i % 40, (i * 1.37)::numeric(14,2), date '2024-01-01' + i % 200,
       CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN true ELSE false END
FROM generate_series(1, 1000) AS i;

-- ---------------------------------------------------------------- large objects

CREATE TABLE public.attachments (id integer PRIMARY KEY, name text, content oid);
SELECT lo_from_bytea(40001, convert_to(repeat('Le contenu du fichier numéro un. ', 150), 'UTF8'));
SELECT lo_from_bytea(40002, (SELECT string_agg(decode(md5(i::text), 'hex'), ''::bytea)
                             FROM generate_series(1, 256) AS i));
SELECT lo_from_bytea(40003, ''::bytea);
SELECT lo_from_bytea(40004, '\x000102030000ff'::bytea);
COMMENT ON LARGE OBJECT 40002 IS 'pseudo-random 8 KiB';
INSERT INTO public.attachments VALUES
    (1, 'texte.txt', 40001), (2, 'random.bin', 40002), (3, 'empty', 40003), (4, 'zeros', 40004);

ANALYZE;
