import Postgres

/// Postal code rules may hold inclusive ranges of two 5-digit codes (`"52500-52599"`) besides
/// codes and prefixes. The Routing library evaluates them and refuses backwards ranges when an
/// admin saves a rule; the database keeps the format as a last line of defence.
enum M0003PostalCodeRanges {
    static let migration = Migration(version: 3, name: "postal_code_ranges", script: """
        ALTER TABLE area_rules DROP CONSTRAINT area_rules_definition_check;
        ALTER TABLE area_rules ADD CONSTRAINT area_rules_definition_check CHECK (CASE kind
            WHEN 'municipality_keys' THEN CASE WHEN jsonb_typeof(definition -> 'values') = 'array'
                THEN jsonb_array_length(definition -> 'values') > 0
                     AND NOT jsonb_path_exists(definition, '$.values[*] ? (@.type() != "string" || !(@ like_regex "^[0-9]{8}$"))')
                ELSE false END
            WHEN 'postal_codes' THEN CASE WHEN jsonb_typeof(definition -> 'values') = 'array'
                THEN jsonb_array_length(definition -> 'values') > 0
                     AND NOT jsonb_path_exists(definition, '$.values[*] ? (@.type() != "string" || !(@ like_regex "^([0-9]{1,5}|[0-9]{5}-[0-9]{5})$"))')
                ELSE false END
            WHEN 'form_field' THEN CASE WHEN jsonb_typeof(definition -> 'values') = 'array' AND jsonb_typeof(definition -> 'field') = 'string'
                THEN jsonb_array_length(definition -> 'values') > 0 AND length(definition ->> 'field') BETWEEN 1 AND 200
                ELSE false END
            WHEN 'default' THEN definition = '{}'::jsonb
            ELSE false END);
        """)
}
