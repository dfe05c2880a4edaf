-- SQL the views share, written once: a view names a fragment as {{name(arg, ...)}} and
-- installing it puts the fragment's text there, with {0}, {1}, ... its arguments (table names
-- and aliases only). Each fragment starts at a `-- fragment NAME(ARGS): what it is` line.

-- fragment first_contact_email(link_table, record): the email of a record's first contact
(
    SELECT ct.email
    FROM {0} AS link
    JOIN contacts AS ct ON ct.id = link.id
    WHERE link._sdc_root_id = {1}._sdc_id
    ORDER BY link._sdc_position
    LIMIT 1
)

-- fragment names_in_order(link_table, named_table, record): the names a record links to, in Intercom's order, comma-separated
(
    SELECT group_concat(named.name, ', ')
    FROM (
        SELECT {1}.name FROM {0} AS link
        JOIN {1} ON {1}.id = link.id
        WHERE link._sdc_root_id = {2}._sdc_id
        ORDER BY link._sdc_position
    ) AS named
)

-- fragment assignee_and_team(record): the teammate (a) and team (t) a record is assigned to; ids compared as numbers, since Intercom sends them as strings in some places and numbers in others
LEFT JOIN admins AS a ON CAST(a.id AS INTEGER) = CAST({0}.admin_assignee_id AS INTEGER)
LEFT JOIN teams AS t ON CAST(t.id AS INTEGER) = CAST({0}.team_assignee_id AS INTEGER)
