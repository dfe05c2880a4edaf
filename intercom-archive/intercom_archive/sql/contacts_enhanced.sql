-- contacts_enhanced: live users and leads with their companies and tags
-- requires: contacts
-- optional: companies(id, name)
-- optional: tags(id, name)
-- optional: contacts__companies__data(_sdc_root_id, _sdc_position, id)
-- optional: contacts__tags__data(_sdc_root_id, _sdc_position, id)
-- Like Fivetran's intercom__contact_enhanced: a contact's companies and tags as one
-- comma-separated list each, in Intercom's order, names looked up in their own streams.
SELECT
    ct.id AS contact_id,
    ct.role,
    ct.name,
    ct.email,
    ct.phone,
    ct.external_id,
    ct.created_at,
    ct.updated_at,
    ct.signed_up_at,
    ct.last_seen_at,
    ct.last_replied_at,
    ct.location__country AS country,
    ct.location__city AS city,
    ct.owner_id,
    {{names_in_order(contacts__companies__data, companies, ct)}} AS companies,
    (
        SELECT count(*) FROM contacts__companies__data AS cd WHERE cd._sdc_root_id = ct._sdc_id
    ) AS count_companies,
    {{names_in_order(contacts__tags__data, tags, ct)}} AS tags
FROM contacts AS ct
WHERE ct._sdc_deleted_at IS NULL
