-- tests/integration/fingerprint.sql -- a content fingerprint of one database.
--
--   psql -X -At -v ON_ERROR_STOP=1 [-v fp_schema=S [-v fp_table=T]] -f fingerprint.sql DB
--
-- Prints one line per user object, sorted (byte order):
--   schema S comment=<md5|->
--   table S.T rows=N md5=<hash of the multiset of row texts>
--   def table S.T md5=<columns, defaults, generated/identity, constraints, indexes,
--                      triggers, partition key/bound, comments>
--   matview S.M rows=N md5=...            (or "matview S.M unpopulated")
--   def matview S.M md5=<definition, indexes, comment>
--   view S.V md5=<definition, comment>
--   sequence S.Q last_value=N is_called=t|f start=.. increment=.. min=.. max=.. cycle=..
--   function S.F(args) md5=<pg_get_functiondef>
--   type S.T kind=e|d|c|r md5=<labels / base type and constraints / attributes>
--   lo OID size=N md5=<content> comment=<md5|->
--   extension E version=V
-- Two databases hold the same data iff their fingerprints are identical.  Owners,
-- ACLs, OIDs of tables and statistics are deliberately left out; large object OIDs
-- are kept (pg_dump preserves them).  fp_schema restricts the output to one schema,
-- fp_table (with fp_schema) to one table/view/matview/sequence; both leave out large
-- objects and extensions, which belong to the database.
--
-- Read-only: no temporary table or function, so it also works on a hot standby or
-- a server paused at a recovery target.  Row hashes are md5(row::text) aggregated in
-- md5 order, so memory stays small even for large tables.

\set QUIET on
\if :{?fp_schema}
\else
\set fp_schema ''
\endif
\if :{?fp_table}
\else
\set fp_table ''
\endif

SET search_path = pg_catalog;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
SET client_min_messages = warning;

WITH
nsp AS (
    SELECT n.oid, n.nspname
    FROM pg_namespace n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%'
      AND n.nspname NOT LIKE 'pg\_temp\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
                        AND d.deptype = 'e')
      AND (:'fp_schema' = '' OR n.nspname = :'fp_schema')
),
rel AS (
    SELECT c.oid, c.relkind, c.relispopulated, format('%I.%I', n.nspname, c.relname) AS qname
    FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'm', 'v', 'S')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'e')
      AND (:'fp_table' = '' OR c.relname = :'fp_table')
),
-- Lines computed from the catalogs alone.
static AS (
    SELECT format('schema %I comment=%s', n.nspname,
                  coalesce(md5(obj_description(n.oid, 'pg_namespace')), '-')) AS line
    FROM nsp n
    WHERE :'fp_table' = ''

    UNION ALL
    SELECT format('def %s %s md5=%s',
                  CASE r.relkind WHEN 'm' THEN 'matview' ELSE 'table' END, r.qname, md5(concat_ws(E'\n',
        'kind ' || r.relkind::text,
        'comment ' || coalesce(obj_description(r.oid, 'pg_class'), '-'),
        'partkey ' || coalesce(pg_get_partkeydef(r.oid), '-'),
        'bound ' || coalesce((SELECT pg_get_expr(c.relpartbound, c.oid)
                              FROM pg_class c WHERE c.oid = r.oid), '-'),
        'matview ' || CASE WHEN r.relkind = 'm' THEN pg_get_viewdef(r.oid) ELSE '-' END,
        (SELECT string_agg(format('col %s %s notnull=%s gen=%s ident=%s default=%s comment=%s',
                                  quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
                                  a.attnotnull, a.attgenerated, a.attidentity,
                                  coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'),
                                  coalesce(col_description(r.oid, a.attnum), '-')),
                           E'\n' ORDER BY a.attnum)
         FROM pg_attribute a
         LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped),
        (SELECT string_agg(format('con %I %s', co.conname, pg_get_constraintdef(co.oid)),
                           E'\n' ORDER BY co.conname COLLATE "C", pg_get_constraintdef(co.oid) COLLATE "C")
         FROM pg_constraint co WHERE co.conrelid = r.oid),
        (SELECT string_agg('idx ' || pg_get_indexdef(i.indexrelid), E'\n'
                           ORDER BY pg_get_indexdef(i.indexrelid) COLLATE "C")
         FROM pg_index i WHERE i.indrelid = r.oid),
        (SELECT string_agg('trg ' || pg_get_triggerdef(t.oid), E'\n'
                           ORDER BY pg_get_triggerdef(t.oid) COLLATE "C")
         FROM pg_trigger t WHERE t.tgrelid = r.oid AND NOT t.tgisinternal)
    )))
    FROM rel r WHERE r.relkind IN ('r', 'p', 'm')

    UNION ALL
    SELECT format('view %s md5=%s', r.qname,
                  md5(pg_get_viewdef(r.oid) || E'\n' || coalesce(obj_description(r.oid, 'pg_class'), '-')))
    FROM rel r WHERE r.relkind = 'v'

    UNION ALL
    SELECT format('function %I.%I(%s) md5=%s', n.nspname, p.proname,
                  pg_get_function_identity_arguments(p.oid),
                  md5(pg_get_functiondef(p.oid) || E'\n' || coalesce(obj_description(p.oid, 'pg_proc'), '-')))
    FROM pg_proc p JOIN nsp n ON n.oid = p.pronamespace
    WHERE p.prokind IN ('f', 'p', 'w') AND :'fp_table' = ''
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                        AND d.deptype = 'e')

    UNION ALL
    SELECT format('type %I.%I kind=%s md5=%s', n.nspname, t.typname, t.typtype, md5(concat_ws(E'\n',
        coalesce(obj_description(t.oid, 'pg_type'), '-'),
        (SELECT string_agg(e.enumlabel, E'\n' ORDER BY e.enumsortorder)
         FROM pg_enum e WHERE e.enumtypid = t.oid),
        CASE WHEN t.typtype = 'd' THEN format('base %s notnull=%s default=%s',
             format_type(t.typbasetype, t.typtypmod), t.typnotnull, coalesce(t.typdefault, '-')) END,
        (SELECT string_agg(format('con %I %s', co.conname, pg_get_constraintdef(co.oid)),
                           E'\n' ORDER BY co.conname COLLATE "C")
         FROM pg_constraint co WHERE co.contypid = t.oid),
        (SELECT string_agg(format('att %I %s', a.attname, format_type(a.atttypid, a.atttypmod)),
                           E'\n' ORDER BY a.attnum)
         FROM pg_attribute a
         WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
        (SELECT format('range %s', format_type(rg.rngsubtype, NULL))
         FROM pg_range rg WHERE rg.rngtypid = t.oid)
    )))
    FROM pg_type t JOIN nsp n ON n.oid = t.typnamespace
    WHERE :'fp_table' = ''
      AND (t.typtype IN ('e', 'd', 'r')
           OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                        AND d.deptype = 'e')

    UNION ALL
    SELECT format('lo %s size=%s md5=%s comment=%s', m.oid, length(lo_get(m.oid)),
                  md5(lo_get(m.oid)), coalesce(md5(obj_description(m.oid, 'pg_largeobject')), '-'))
    FROM pg_largeobject_metadata m
    WHERE :'fp_schema' = '' AND :'fp_table' = ''

    UNION ALL
    SELECT format('extension %I version=%s', e.extname, e.extversion)
    FROM pg_extension e
    WHERE :'fp_schema' = '' AND :'fp_table' = '' AND e.extname <> 'plpgsql'
),
-- Queries reading the data itself, one per relation.
dyn AS (
    SELECT format(
        'SELECT %L || '' rows='' || count(*) || '' md5='' || '
        'coalesce(md5(string_agg(md5(_fp_row.*::text), '''' ORDER BY md5(_fp_row.*::text))), ''-'') '
        'FROM %s AS _fp_row',
        CASE r.relkind WHEN 'm' THEN 'matview ' ELSE 'table ' END || r.qname, r.qname) AS q
    FROM rel r WHERE r.relkind IN ('r', 'p') OR (r.relkind = 'm' AND r.relispopulated)

    UNION ALL
    SELECT format('SELECT %L', 'matview ' || r.qname || ' unpopulated')
    FROM rel r WHERE r.relkind = 'm' AND NOT r.relispopulated

    UNION ALL
    SELECT format(
        'SELECT %L || '' last_value='' || last_value || '' is_called='' || is_called || %L FROM %s',
        'sequence ' || r.qname,
        format(' type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s',
               format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
               s.seqcache, s.seqcycle),
        r.qname)
    FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid
    WHERE r.relkind = 'S'
)
SELECT 'SELECT line FROM (SELECT NULL::text AS line WHERE false'
       || coalesce((SELECT ' UNION ALL SELECT unnest(' || quote_literal(array_agg(line)::text)
                           || '::text[])' FROM static), '')
       || coalesce((SELECT ' UNION ALL ' || string_agg(q, ' UNION ALL ') FROM dyn), '')
       || ') _fp ORDER BY line COLLATE "C"'
\gexec
