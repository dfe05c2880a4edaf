-- conversation_parts_enhanced: one row per part of a live conversation, with its author's name
-- requires: conversation_parts, conversations
-- optional: admins(id, name)
-- optional: contacts(id, name, email)
-- optional: deleted_conversations(id)
-- Intercom often leaves a part's author name empty (users, bots): the name is then looked up
-- among the teammates or the contacts, by the author's id.
SELECT
    p.conversation_id,
    p.id AS part_id,
    p.part_type,
    p.created_at,
    p.author__type AS author_type,
    p.author__id AS author_id,
    coalesce(nullif(p.author__name, ''), a.name, ct.name) AS author_name,
    coalesce(nullif(p.author__email, ''), ct.email) AS author_email,
    p.body,
    p.redacted
FROM conversation_parts AS p
JOIN conversations AS c ON c.id = p.conversation_id
LEFT JOIN admins AS a ON p.author__type IN ('admin', 'bot') AND a.id = p.author__id
LEFT JOIN contacts AS ct ON p.author__type IN ('user', 'lead', 'contact') AND ct.id = p.author__id
WHERE p._sdc_deleted_at IS NULL
    AND c._sdc_deleted_at IS NULL
    AND c.id NOT IN (SELECT id FROM deleted_conversations)
