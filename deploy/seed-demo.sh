#!/bin/sh
# Seeds the evaluation demo: Kreis Heinsberg and two of its towns, three online services, areas
# with postal-code rules, caseworkers with tokens, and an intake client per town.
# Prints the secrets once as NAME=VALUE lines (deploy/run.sh keeps them in deploy/.data/).
# Does nothing when the demo tenant exists already. Needs `amtsweg` on PATH and the owner's
# MIGRATION_DATABASE_URL(_FILE) (or DATABASE_URL for a one-role development database).
set -eu
AMTSWEG=${AMTSWEG:-amtsweg}

if $AMTSWEG tenant list 2>/dev/null | grep -q "kreis-heinsberg"; then
    echo "demo data present; not seeding again" >&2
    exit 0
fi

$AMTSWEG tenant create --slug kreis-heinsberg --name "Kreis Heinsberg" --prefix HS --municipality-key 05370000 >&2
$AMTSWEG tenant create --slug erkelenz --name "Stadt Erkelenz" --prefix ERK --municipality-key 05370012 >&2
$AMTSWEG tenant create --slug hueckelhoven --name "Stadt Hückelhoven" --prefix HUE --municipality-key 05370016 >&2

# Stadt Erkelenz: Anwohnerparkausweis and Hundesteuer-Anmeldung.
$AMTSWEG service create --tenant erkelenz --key anwohnerparkausweis --name "Anwohnerparkausweis" --leika 99107004012000 >&2
$AMTSWEG service create --tenant erkelenz --key hundesteuer --name "Hundesteuer-Anmeldung" >&2
$AMTSWEG caseworker create --tenant erkelenz --name "Anna Schmitz" --email anna.schmitz@erkelenz.example >&2
$AMTSWEG caseworker create --tenant erkelenz --name "Ben Hoffmann" --email ben.hoffmann@erkelenz.example >&2
$AMTSWEG caseworker create --tenant erkelenz --name "Clara Admin" --email clara.admin@erkelenz.example --admin >&2
$AMTSWEG area create --tenant erkelenz --service anwohnerparkausweis --name "Innenstadt" \
    --rule postal_codes=41812 --member anna.schmitz@erkelenz.example >&2
$AMTSWEG area create --tenant erkelenz --service anwohnerparkausweis --name "Ordnungsamt allgemein" \
    --rule default --member ben.hoffmann@erkelenz.example >&2
$AMTSWEG area create --tenant erkelenz --service hundesteuer --name "Steueramt" \
    --rule default --member ben.hoffmann@erkelenz.example >&2
$AMTSWEG area create --tenant erkelenz --name "Bürgerbüro (Rückfall)" --member clara.admin@erkelenz.example --fallback >&2

# Stadt Hückelhoven: Gewerbeanmeldung.
$AMTSWEG service create --tenant hueckelhoven --key gewerbeanmeldung --name "Gewerbeanmeldung" >&2
$AMTSWEG caseworker create --tenant hueckelhoven --name "Deniz Yilmaz" --email deniz.yilmaz@hueckelhoven.example --admin >&2
$AMTSWEG area create --tenant hueckelhoven --service gewerbeanmeldung --name "Gewerbeamt" \
    --rule postal_codes=41836 --rule default --member deniz.yilmaz@hueckelhoven.example >&2

echo "ERKELENZ_INTAKE_KEY=$($AMTSWEG intake-client create --tenant erkelenz --name 'Formularserver Erkelenz' | head -1)"
echo "HUECKELHOVEN_INTAKE_KEY=$($AMTSWEG intake-client create --tenant hueckelhoven --name 'Formularserver Hückelhoven' | head -1)"
echo "ANNA_TOKEN=$($AMTSWEG token create --tenant erkelenz --caseworker anna.schmitz@erkelenz.example --label demo | head -1)"
echo "BEN_TOKEN=$($AMTSWEG token create --tenant erkelenz --caseworker ben.hoffmann@erkelenz.example --label demo | head -1)"
echo "CLARA_ADMIN_TOKEN=$($AMTSWEG token create --tenant erkelenz --caseworker clara.admin@erkelenz.example --label demo | head -1)"
echo "DENIZ_ADMIN_TOKEN=$($AMTSWEG token create --tenant hueckelhoven --caseworker deniz.yilmaz@hueckelhoven.example --label demo | head -1)"
