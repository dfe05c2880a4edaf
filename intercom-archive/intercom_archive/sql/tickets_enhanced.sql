-- tickets_enhanced: live tickets with their type, state, assignee and team names
-- requires: tickets
-- optional: admins(id, name)
-- optional: teams(id, name)
-- optional: contacts(id, email)
-- optional: tickets__contacts__contacts(_sdc_root_id, _sdc_position, id)
-- optional: ticket_parts(ticket_id, _sdc_deleted_at)
-- A ticket's title and description live in its ticket_attributes (Intercom's default
-- attributes `_default_title_` and `_default_description_`).
SELECT
    tk.id AS ticket_id,
    tk.ticket_id AS ticket_number,
    json_extract(tk.ticket_attributes, '$._default_title_') AS title,
    json_extract(tk.ticket_attributes, '$._default_description_') AS description,
    tk.category,
    tk.ticket_type__id AS ticket_type_id,
    tk.ticket_type__name AS ticket_type,
    tk.ticket_state__id AS ticket_state_id,
    tk.ticket_state__internal_label AS state,
    tk.ticket_state__external_label AS state_shown_to_customer,
    tk.ticket_state__category AS state_category,
    tk.open,
    tk.created_at,
    tk.updated_at,
    tk.admin_assignee_id,
    a.name AS assignee_name,
    tk.team_assignee_id,
    t.name AS team_name,
    {{first_contact_email(tickets__contacts__contacts, tk)}} AS contact_email,
    (
        SELECT count(*) FROM ticket_parts AS p
        WHERE p.ticket_id = tk.id AND p._sdc_deleted_at IS NULL
    ) AS count_parts
FROM tickets AS tk
{{assignee_and_team(tk)}}
WHERE tk._sdc_deleted_at IS NULL
