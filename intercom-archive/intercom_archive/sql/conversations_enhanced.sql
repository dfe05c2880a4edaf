-- conversations_enhanced: live conversations with assignee and team names, the first contact's email, tags, rating, first response time and part counts
-- requires: conversations
-- optional: admins(id, name)
-- optional: teams(id, name)
-- optional: contacts(id, email)
-- optional: conversations__contacts__contacts(_sdc_root_id, _sdc_position, id)
-- optional: conversations__tags__tags(_sdc_root_id, _sdc_position, name)
-- optional: conversation_parts(conversation_id, part_type, author__type, created_at, _sdc_deleted_at)
-- optional: deleted_conversations(id)
-- Like Fivetran's intercom__conversation_enhanced and _metrics: one row per conversation that
-- is not deleted (neither marked nor listed by /conversations/deleted); the part counts and
-- first response come from the archived parts, Intercom's own statistics sit beside them.
SELECT
    c.id AS conversation_id,
    c.created_at,
    c.updated_at,
    c.state,
    c.open,
    c.read,
    c.priority,
    coalesce(c.title, c.source__subject) AS title,
    c.source__type AS source_type,
    c.source__delivered_as AS initiated_as,
    c.source__author__type AS initiated_by_type,
    c.admin_assignee_id,
    a.name AS assignee_name,
    c.team_assignee_id,
    t.name AS team_name,
    {{first_contact_email(conversations__contacts__contacts, c)}} AS contact_email,
    (
        SELECT group_concat(tg.name, ', ')
        FROM (
            SELECT name FROM conversations__tags__tags
            WHERE _sdc_root_id = c._sdc_id
            ORDER BY _sdc_position
        ) AS tg
    ) AS tags,
    c.conversation_rating__rating AS rating,
    c.conversation_rating__remark AS rating_remark,
    (
        SELECT min(p.created_at) FROM conversation_parts AS p
        WHERE p.conversation_id = c.id AND p.author__type = 'admin' AND p.part_type = 'comment'
    ) AS first_admin_response_at,
    CAST(round((julianday((
        SELECT min(p.created_at) FROM conversation_parts AS p
        WHERE p.conversation_id = c.id AND p.author__type = 'admin' AND p.part_type = 'comment'
    )) - julianday(c.created_at)) * 86400) AS INTEGER) AS time_to_first_response_seconds,
    c.statistics__time_to_admin_reply AS intercom_time_to_admin_reply_seconds,
    (
        SELECT count(*) FROM conversation_parts AS p
        WHERE p.conversation_id = c.id AND p._sdc_deleted_at IS NULL
    ) AS count_parts,
    (
        SELECT count(*) FROM conversation_parts AS p
        WHERE p.conversation_id = c.id AND p.part_type = 'comment' AND p._sdc_deleted_at IS NULL
    ) AS count_comments,
    (
        SELECT count(*) FROM conversation_parts AS p
        WHERE p.conversation_id = c.id AND p.part_type LIKE 'assign%'
            AND p._sdc_deleted_at IS NULL
    ) AS count_assignments,
    (
        SELECT count(*) FROM conversation_parts AS p
        WHERE p.conversation_id = c.id AND p.part_type = 'open' AND p._sdc_deleted_at IS NULL
    ) AS count_reopens,
    c.conversation_parts__total_count AS intercom_count_parts
FROM conversations AS c
{{assignee_and_team(c)}}
WHERE c._sdc_deleted_at IS NULL
    AND c.id NOT IN (SELECT id FROM deleted_conversations)
