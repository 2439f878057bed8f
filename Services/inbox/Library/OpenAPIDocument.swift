/// The inbox API's OpenAPI 3.1 document, served at `/openapi.yaml`. A copy of
/// `Services/inbox/openapi.yaml` (a test keeps them equal; run `Services/inbox/sync-openapi.sh`
/// after editing the YAML).
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: Amtsweg inbox API
  version: 1.0.0
  summary: The caseworkers' inbox and the tenant admin API (BIS-Admin) of the municipal back office.
  description: |
    Caseworkers (Sachbearbeitende) list and long-poll their inbox, read applications (Anträge)
    and their attachments, claim, release, forward and complete them, and send messages over the
    back channel to the applicant's citizen postbox. Tenant admins maintain services,
    responsibility areas and their routing rules, caseworkers, tokens and intake client keys,
    the tenant's texts (e-mails to caseworkers, status messages to applicants), and look at
    unroutable applications, dead letters and the audit log. The operator CLI (`amtsweg`) writes
    through the same store with the same checks.

    Every request carries a caseworker token (`Authorization: Bearer amtsweg_ct_…`). Everything
    is scoped to the token's tenant; a caseworker sees only applications of the areas they belong
    to (admins see their whole tenant). Applications outside that view are answered with 404,
    exactly like ids that do not exist. Admin routes need the `admin` role (403 otherwise).

    Reads of personal data (an application, an attachment, a search by name), every listing of
    dead letters and every change write an entry to the append-only audit log.

    Polling: `GET /v1/inbox` answers with an `ETag`; send it back as `If-None-Match` to get 304
    while nothing in your view changed. With `wait=N` (at most 60 seconds) and `If-None-Match`,
    the request is held until something in your view changes (woken by the database's
    LISTEN/NOTIFY) or N seconds pass (then 304).

    Writes to an application (claim, release, forward, status) need `If-Match` with the
    application's version (its `ETag`, e.g. `"3"`): 428 without it, 412 when stale. A second
    caseworker claiming is 409 `claimed-by-other` naming the holder (`holder_id`, `holder_name`);
    an illegal transition is 409 `invalid-transition` with `current_state`.

    Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code` and the
    `request_id`; validation errors (`validation-failed`) list each offending field in `errors`,
    each with a `field` path (`rules[2].definition.values[0]`), a stable `code` and a `message`.
    Admin routes answer 404 `<resource>-not-found` for unknown ids (and other tenants' ids), 409
    `already-exists` for a duplicate key or name, and 409 `cannot-demote-self` when admins would
    deactivate themselves or drop their own admin role.
servers:
  - url: http://localhost:8082
security:
  - caseworkerToken: []
tags:
  - name: caseworker
  - name: admin
paths:
  /v1/me:
    get:
      operationId: getMe
      tags: [caseworker]
      summary: Who am I
      responses:
        '200':
          description: The caseworker, their tenant, areas and roles.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Me'
        '401':
          $ref: '#/components/responses/Unauthorized'
  /v1/inbox:
    get:
      operationId: listInbox
      tags: [caseworker]
      summary: The applications of my areas (admins - the whole tenant), newest first
      parameters:
        - name: status
          in: query
          description: Comma-separated statuses; default all open ones.
          schema:
            type: string
            maxLength: 200
        - name: service
          in: query
          description: Service key.
          schema:
            type: string
            maxLength: 64
        - name: area
          in: query
          schema:
            type: string
            format: uuid
        - name: claimed_by
          in: query
          schema:
            type: string
            enum: [me]
        - name: q
          in: query
          description: A reference (exact) or part of the applicant's name. Audited.
          schema:
            type: string
            maxLength: 200
        - name: limit
          in: query
          schema:
            type: integer
            minimum: 1
            maximum: 200
            default: 50
        - name: cursor
          in: query
          description: The `next_cursor` of the previous page.
          schema:
            type: string
            maxLength: 200
        - name: wait
          in: query
          description: Long-poll up to this many seconds (needs If-None-Match).
          schema:
            type: integer
            minimum: 0
            maximum: 60
        - name: If-None-Match
          in: header
          schema:
            type: string
      responses:
        '200':
          description: A page of the inbox.
          headers:
            ETag:
              schema:
                type: string
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/InboxPage'
        '304':
          description: Nothing in the view changed (same ETag).
        '401':
          $ref: '#/components/responses/Unauthorized'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/applications/{id}:
    parameters:
      - $ref: '#/components/parameters/ApplicationID'
    get:
      operationId: getApplication
      tags: [caseworker]
      summary: Everything about an application (audited)
      responses:
        '200':
          description: The application with applicant, form, payment, attachments (metadata), timeline, messages and notes.
          headers:
            ETag:
              description: The version, for If-Match.
              schema:
                type: string
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/ApplicationDetail'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
  /v1/applications/{id}/attachments/{aid}:
    parameters:
      - $ref: '#/components/parameters/ApplicationID'
      - name: aid
        in: path
        required: true
        schema:
          type: string
          format: uuid
    get:
      operationId: getAttachment
      tags: [caseworker]
      summary: The file of an attachment (audited)
      responses:
        '200':
          description: The file, with its content type and a Content-Disposition naming it.
          headers:
            Content-Disposition:
              schema:
                type: string
          content:
            '*/*':
              schema:
                type: string
                format: binary
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
        '410':
          $ref: '#/components/responses/Problem'
  /v1/applications/{id}/claim:
    parameters:
      - $ref: '#/components/parameters/ApplicationID'
      - $ref: '#/components/parameters/IfMatch'
    post:
      operationId: claimApplication
      tags: [caseworker]
      summary: Take an assigned application into work (assigned → in_progress)
      responses:
        '200':
          $ref: '#/components/responses/Summary'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '412':
          $ref: '#/components/responses/Problem'
        '428':
          $ref: '#/components/responses/Problem'
  /v1/applications/{id}/release:
    parameters:
      - $ref: '#/components/parameters/ApplicationID'
      - $ref: '#/components/parameters/IfMatch'
    post:
      operationId: releaseApplication
      tags: [caseworker]
      summary: Put a claimed application back (in_progress → assigned); the holder or an admin
      responses:
        '200':
          $ref: '#/components/responses/Summary'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '412':
          $ref: '#/components/responses/Problem'
        '428':
          $ref: '#/components/responses/Problem'
  /v1/applications/{id}/forward:
    parameters:
      - $ref: '#/components/parameters/ApplicationID'
      - $ref: '#/components/parameters/IfMatch'
    post:
      operationId: forwardApplication
      tags: [caseworker]
      summary: Move an open (or unroutable) application to another area of the tenant, with a note
      description: |
        The area must be active and belong to the application's service or to the whole tenant:
        422 with `errors[].code` `unknown-area`, `area-of-another-service` or `same-area` otherwise.
        Its members who want e-mail are notified; both areas' long-polls wake.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [area_id]
              properties:
                area_id:
                  type: string
                  format: uuid
                note:
                  type: string
                  minLength: 1
                  maxLength: 10000
      responses:
        '200':
          $ref: '#/components/responses/Summary'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '412':
          $ref: '#/components/responses/Problem'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
        '428':
          $ref: '#/components/responses/Problem'
  /v1/applications/{id}/status:
    parameters:
      - $ref: '#/components/parameters/ApplicationID'
      - $ref: '#/components/parameters/IfMatch'
    post:
      operationId: changeStatus
      tags: [caseworker]
      summary: in_progress ⇄ awaiting_applicant, or completed with an outcome; the holder only
      description: The applicant gets a status message over the back channel when they have a postbox.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [status]
              properties:
                status:
                  type: string
                  enum: [in_progress, awaiting_applicant, completed]
                outcome:
                  type: string
                  enum: [approved, rejected, done]
                note:
                  type: string
                  minLength: 1
                  maxLength: 10000
      responses:
        '200':
          $ref: '#/components/responses/Summary'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '412':
          $ref: '#/components/responses/Problem'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
        '428':
          $ref: '#/components/responses/Problem'
  /v1/applications/{id}/messages:
    parameters:
      - $ref: '#/components/parameters/ApplicationID'
    post:
      operationId: sendMessage
      tags: [caseworker]
      summary: Send a message to the applicant's citizen postbox; the holder only
      description: |
        Back channel rules: no postbox → 422 `no-postbox`; `decision` while the tenant's policy
        `decisions_via_back_channel` is off → 422 `decisions-not-allowed`; `document` without the
        applicant's consent → 422 `document-consent-missing`, with a trust level below the
        service's `document_trust_level` → 422 `trust-level-too-low`. A `question` moves the
        application to `awaiting_applicant`. The message is queued (`delivery_state` `queued`);
        its delivery state shows on the application. `If-Match` is optional here.
      parameters:
        - name: If-Match
          in: header
          required: false
          schema:
            type: string
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [kind, subject, body]
              properties:
                kind:
                  type: string
                  enum: [question, information, document, decision]
                subject:
                  type: string
                  minLength: 1
                  maxLength: 255
                body:
                  type: string
                  minLength: 1
                  maxLength: 100000
                attachments:
                  type: array
                  maxItems: 10
                  description: Documents only; each at most 10 MiB, together at most 25 MiB.
                  items:
                    type: object
                    required: [filename, content_type, content_base64]
                    properties:
                      filename:
                        type: string
                      content_type:
                        type: string
                      content_base64:
                        type: string
      responses:
        '201':
          description: Queued.
          content:
            application/json:
              schema:
                type: object
                required: [message, application]
                properties:
                  message:
                    type: object
                    required: [id, kind, delivery_state, trust_level, attachment_ids]
                    properties:
                      id:
                        type: string
                        format: uuid
                      kind:
                        type: string
                      delivery_state:
                        type: string
                        enum: [queued, delivered, failed]
                      trust_level:
                        $ref: '#/components/schemas/TrustLevel'
                      attachment_ids:
                        type: array
                        items:
                          type: string
                          format: uuid
                  application:
                    $ref: '#/components/schemas/ApplicationSummary'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '412':
          $ref: '#/components/responses/Problem'
        '413':
          $ref: '#/components/responses/Problem'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/applications/{id}/notes:
    parameters:
      - $ref: '#/components/parameters/ApplicationID'
    post:
      operationId: addNote
      tags: [caseworker]
      summary: An internal note, never sent to the applicant
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [body]
              properties:
                body:
                  type: string
                  minLength: 1
                  maxLength: 10000
      responses:
        '201':
          description: Stored.
          content:
            application/json:
              schema:
                type: object
                required: [id]
                properties:
                  id:
                    type: string
                    format: uuid
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '412':
          $ref: '#/components/responses/Problem'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/tenant:
    get:
      operationId: getTenant
      tags: [admin]
      summary: The tenant's policy
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
    patch:
      operationId: updateTenant
      tags: [admin]
      summary: Change the policy (decisions over the back channel), the fallback area, name or locale
      description: |
        Fields left out stay as they are; `fallback_area_id` null clears the fallback area. The
        fallback area must be an active area of the tenant (422 `unknown-area`). `locale` (`de`,
        `de-DE`) is the language of the tenant's texts.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                name:
                  type: string
                decisions_via_back_channel:
                  type: boolean
                fallback_area_id:
                  type: [string, 'null']
                  format: uuid
                locale:
                  type: string
                  pattern: '^[a-z]{2}(-[A-Z]{2})?$'
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/services:
    get:
      operationId: listServices
      tags: [admin]
      responses:
        '200':
          $ref: '#/components/responses/List'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
    post:
      operationId: createService
      tags: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/ServiceInput'
      responses:
        '201':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '409':
          $ref: '#/components/responses/Conflict'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/services/{id}:
    parameters:
      - $ref: '#/components/parameters/ID'
    patch:
      operationId: updateService
      tags: [admin]
      summary: Update or deactivate (`active` false) a service
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/ServiceInput'
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/services/{id}/rules:
    parameters:
      - $ref: '#/components/parameters/ID'
    get:
      operationId: getRules
      tags: [admin]
      summary: The service's routing rules in order
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
    put:
      operationId: replaceRules
      tags: [admin]
      summary: Replace the service's routing rules; their order is the list's order
      description: |
        Rules are checked at save time by the routing engine's own parser, so what is saved is
        exactly what routing evaluates (its canonical form is stored and returned):
        - `municipality_keys` `{"values": ["05370016"]}`: 8-digit municipality keys (AGS);
        - `postal_codes` `{"values": ["52525", "5253", "52500-52599"]}`: a 5-digit code, a
          prefix of 1 to 4 digits, or an inclusive range of two 5-digit codes;
        - `form_field` `{"field": "vehicle.kind", "values": ["truck", 3, true]}`: a dotted path of
          at most 10 segments of letters, digits, `_` and `-` (at most 200 characters), and
          strings, numbers or booleans (not `null`, arrays or objects);
        - `default` `{}`: matches every application.

        At most 1000 values per rule and 1000 rules per service. A rule after a `default` rule
        could never match and is refused (`unreachable`, named in `detail`). Problems are 422
        `validation-failed` with one entry per field, e.g. `rules[1].definition.values[0]`
        (codes `invalid`, `missing`, `wrong-type`, `too-many`, `unknown-setting`, `unreachable`,
        `unknown-area`, `area-of-other-service`). A rule's area belongs to this service or to the
        whole tenant.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [rules]
              properties:
                rules:
                  type: array
                  maxItems: 1000
                  items:
                    type: object
                    required: [area_id, kind, definition]
                    properties:
                      area_id:
                        type: string
                        format: uuid
                      kind:
                        type: string
                        enum: [municipality_keys, postal_codes, form_field, default]
                      definition:
                        type: object
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/areas:
    get:
      operationId: listAreas
      tags: [admin]
      responses:
        '200':
          $ref: '#/components/responses/List'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
    post:
      operationId: createArea
      tags: [admin]
      summary: An area of a service, or (without service_id) of the whole tenant
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/AreaInput'
      responses:
        '201':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '409':
          $ref: '#/components/responses/Conflict'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/areas/{id}:
    parameters:
      - $ref: '#/components/parameters/ID'
    patch:
      operationId: updateArea
      tags: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/AreaInput'
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/areas/{id}/members:
    parameters:
      - $ref: '#/components/parameters/ID'
    put:
      operationId: replaceMembers
      tags: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [caseworker_ids]
              properties:
                caseworker_ids:
                  type: array
                  items:
                    type: string
                    format: uuid
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/caseworkers:
    get:
      operationId: listCaseworkers
      tags: [admin]
      responses:
        '200':
          $ref: '#/components/responses/List'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
    post:
      operationId: createCaseworker
      tags: [admin]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/CaseworkerInput'
      responses:
        '201':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '409':
          $ref: '#/components/responses/Conflict'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/caseworkers/{id}:
    parameters:
      - $ref: '#/components/parameters/ID'
    patch:
      operationId: updateCaseworker
      tags: [admin]
      summary: Update roles, e-mail settings, or deactivate (`active` false)
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/CaseworkerInput'
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
        '409':
          $ref: '#/components/responses/Conflict'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/caseworkers/{id}/tokens:
    parameters:
      - $ref: '#/components/parameters/ID'
    post:
      operationId: issueToken
      tags: [admin]
      summary: Issue a caseworker token; the secret (`token`) is shown only in this answer
      requestBody:
        required: false
        content:
          application/json:
            schema:
              type: object
              properties:
                label:
                  type: string
                  maxLength: 200
                expires_at:
                  type: string
                  format: date-time
      responses:
        '201':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/tokens:
    get:
      operationId: listTokens
      tags: [admin]
      summary: Caseworker tokens, without secrets
      responses:
        '200':
          $ref: '#/components/responses/List'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
  /v1/admin/tokens/{id}/revoke:
    parameters:
      - $ref: '#/components/parameters/ID'
    post:
      operationId: revokeToken
      tags: [admin]
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
  /v1/admin/intake-clients:
    get:
      operationId: listIntakeClients
      tags: [admin]
      summary: Intake client keys, without secrets
      responses:
        '200':
          $ref: '#/components/responses/List'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
    post:
      operationId: issueIntakeClient
      tags: [admin]
      summary: Issue an intake client key (for all services, or those listed); the secret (`key`) is shown only here
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name:
                  type: string
                  minLength: 1
                  maxLength: 200
                service_keys:
                  type: array
                  minItems: 1
                  maxItems: 200
                  items:
                    type: string
      responses:
        '201':
          $ref: '#/components/responses/Object'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '409':
          $ref: '#/components/responses/Conflict'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/intake-clients/{id}/revoke:
    parameters:
      - $ref: '#/components/parameters/ID'
    post:
      operationId: revokeIntakeClient
      tags: [admin]
      responses:
        '200':
          $ref: '#/components/responses/Object'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
  /v1/admin/notification-templates:
    get:
      operationId: listNotificationTemplates
      tags: [admin]
      summary: Every kind of tenant text with the text the senders use and its placeholders
      description: |
        One item per kind, in this order: `email.new_application`, `email.applicant_replied`,
        `email.delivery_failed` (e-mails to caseworkers) and `citizen.status.received`,
        `.assigned`, `.in_progress`, `.awaiting_applicant`, `.completed`, `.withdrawn` (status
        messages to the applicant). Each shows the tenant's own text in `locale`, else in `de`
        (as the senders fall back), else the built-in German default (`is_default` true).
      parameters:
        - $ref: '#/components/parameters/Locale'
      responses:
        '200':
          description: The texts.
          content:
            application/json:
              schema:
                type: object
                required: [items]
                properties:
                  items:
                    type: array
                    items:
                      $ref: '#/components/schemas/NotificationTemplate'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/notification-templates/{kind}:
    parameters:
      - $ref: '#/components/parameters/TemplateKind'
    get:
      operationId: getNotificationTemplate
      tags: [admin]
      summary: The text of one kind as the senders use it
      parameters:
        - $ref: '#/components/parameters/Locale'
      responses:
        '200':
          $ref: '#/components/responses/NotificationTemplate'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
        '422':
          $ref: '#/components/responses/Invalid'
    put:
      operationId: setNotificationTemplate
      tags: [admin]
      summary: Set the tenant's own text of this kind
      description: |
        Checked at save time: `{{placeholder}}` slots written without spaces, only the kind's
        placeholders (e-mails offer `reference`, `service`, `link`, `tenant` and none with
        personal data of the applicant; status messages `reference`, `service` and, when
        completed, `outcome`), a subject of one line. An unknown placeholder is 422
        `unknown-placeholder` naming it; broken braces `invalid-template`. `locale` (body or
        query) defaults to the tenant's locale.
      parameters:
        - $ref: '#/components/parameters/Locale'
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [subject, body]
              properties:
                subject:
                  type: string
                  minLength: 1
                  maxLength: 255
                body:
                  type: string
                  minLength: 1
                  maxLength: 20000
                locale:
                  type: string
                  pattern: '^[a-z]{2}(-[A-Z]{2})?$'
      responses:
        '200':
          $ref: '#/components/responses/NotificationTemplate'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
    delete:
      operationId: resetNotificationTemplate
      tags: [admin]
      summary: Delete the tenant's own text of this kind, so the default applies again
      description: Answers with the text that applies now. Resetting a kind without a text of its own is no error.
      parameters:
        - $ref: '#/components/parameters/Locale'
      responses:
        '200':
          $ref: '#/components/responses/NotificationTemplate'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '404':
          $ref: '#/components/responses/NotFound'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/unroutable:
    get:
      operationId: listUnroutable
      tags: [admin]
      summary: Applications no rule and no fallback area took; forward them to an area
      parameters:
        - name: limit
          in: query
          schema:
            type: integer
            minimum: 1
            maximum: 500
      responses:
        '200':
          $ref: '#/components/responses/List'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/dead-letters:
    get:
      operationId: listDeadLetters
      tags: [admin]
      summary: Jobs of this tenant that failed for good, with their last error
      description: |
        Oldest first after `after_id`. Every listing is audited (`dead_letter.read`, naming the
        ids read and their count, never payloads).
      parameters:
        - name: limit
          in: query
          schema:
            type: integer
            minimum: 1
            maximum: 1000
        - name: after_id
          in: query
          schema:
            type: integer
            minimum: 0
      responses:
        '200':
          $ref: '#/components/responses/List'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/dead-letters/replay:
    post:
      operationId: replayDeadLetters
      tags: [admin]
      summary: Put dead letters of this tenant back on their queues
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [ids]
              properties:
                ids:
                  type: array
                  minItems: 1
                  maxItems: 1000
                  items:
                    type: integer
                    format: int64
      responses:
        '200':
          description: The new jobs.
          content:
            application/json:
              schema:
                type: object
                required: [replayed_job_ids]
                properties:
                  replayed_job_ids:
                    type: array
                    items:
                      type: integer
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Invalid'
  /v1/admin/audit:
    get:
      operationId: queryAuditLog
      tags: [admin]
      summary: The audit log of this tenant, by application, caseworker and time range (read only)
      parameters:
        - name: application_id
          in: query
          schema:
            type: string
            format: uuid
        - name: caseworker_id
          in: query
          schema:
            type: string
            format: uuid
        - name: from
          in: query
          schema:
            type: string
            format: date-time
        - name: to
          in: query
          schema:
            type: string
            format: date-time
        - name: limit
          in: query
          schema:
            type: integer
            minimum: 1
            maximum: 1000
        - name: after_id
          in: query
          schema:
            type: integer
            minimum: 0
      responses:
        '200':
          description: Entries oldest first; page with `next_after_id`.
          content:
            application/json:
              schema:
                type: object
                required: [items, next_after_id]
                properties:
                  items:
                    type: array
                    items:
                      type: object
                  next_after_id:
                    type: [integer, 'null']
        '401':
          $ref: '#/components/responses/Unauthorized'
        '403':
          $ref: '#/components/responses/Forbidden'
        '422':
          $ref: '#/components/responses/Invalid'
components:
  securitySchemes:
    caseworkerToken:
      type: http
      scheme: bearer
      description: A caseworker token issued by an admin or the CLI (`amtsweg_ct_…`).
  parameters:
    ApplicationID:
      name: id
      in: path
      required: true
      schema:
        type: string
        format: uuid
    ID:
      name: id
      in: path
      required: true
      schema:
        type: string
        format: uuid
    TemplateKind:
      name: kind
      in: path
      required: true
      schema:
        type: string
        enum: [email.new_application, email.applicant_replied, email.delivery_failed, citizen.status.received,
               citizen.status.assigned, citizen.status.in_progress, citizen.status.awaiting_applicant,
               citizen.status.completed, citizen.status.withdrawn]
    Locale:
      name: locale
      in: query
      description: The texts' locale; the tenant's when left out.
      schema:
        type: string
        pattern: '^[a-z]{2}(-[A-Z]{2})?$'
    IfMatch:
      name: If-Match
      in: header
      required: true
      description: The application's version as an entity tag, e.g. `"3"`.
      schema:
        type: string
  responses:
    Summary:
      description: Where the application stands now.
      headers:
        ETag:
          schema:
            type: string
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/ApplicationSummary'
    Object:
      description: The resource.
      content:
        application/json:
          schema:
            type: object
    List:
      description: The resources.
      content:
        application/json:
          schema:
            type: object
            required: [items]
            properties:
              items:
                type: array
                items:
                  type: object
    NotificationTemplate:
      description: The text that applies.
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/NotificationTemplate'
    Problem:
      description: A problem.
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
    Unauthorized:
      description: No valid caseworker token.
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
    Forbidden:
      description: The admin role is needed.
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
    NotFound:
      description: No such resource in your view (also the answer for other tenants' ids).
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
    Conflict:
      description: Held by another caseworker (`holder_id`, `holder_name`), an illegal transition (`current_state`), or a duplicate.
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
    Invalid:
      description: Invalid fields (`errors`) or a back channel rule.
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
  schemas:
    NotificationTemplate:
      type: object
      required: [kind, locale, subject, body, is_default, placeholders, purpose, updated_at]
      properties:
        kind:
          type: string
        locale:
          type: string
          description: The locale of the text shown (the asked one, or `de` when it falls back).
        subject:
          type: string
        body:
          type: string
        is_default:
          type: boolean
          description: true when the tenant has no text of its own and the built-in German default applies.
        placeholders:
          type: array
          items:
            type: string
        purpose:
          type: string
        updated_at:
          type: [string, 'null']
          format: date-time
    TrustLevel:
      type: string
      enum: [basic, substantial, high]
    Status:
      type: string
      enum: [received, assigned, in_progress, awaiting_applicant, completed, withdrawn, unroutable]
    Ref:
      type: [object, 'null']
      required: [id, name]
      properties:
        id:
          type: string
          format: uuid
        name:
          type: string
    Me:
      type: object
      required: [id, name, email, roles, tenant, areas]
      properties:
        id:
          type: string
          format: uuid
        name:
          type: string
        email:
          type: string
        roles:
          type: array
          items:
            type: string
            enum: [caseworker, admin]
        email_notifications:
          type: boolean
        tenant:
          type: object
          required: [id, slug, name]
          properties:
            id:
              type: string
              format: uuid
            slug:
              type: string
            name:
              type: string
        areas:
          type: array
          items:
            type: object
            required: [id, name]
            properties:
              id:
                type: string
                format: uuid
              name:
                type: string
              service_id:
                type: [string, 'null']
                format: uuid
    InboxPage:
      type: object
      required: [items, next_cursor]
      properties:
        items:
          type: array
          items:
            $ref: '#/components/schemas/InboxItem'
        next_cursor:
          type: [string, 'null']
    InboxItem:
      type: object
      required: [id, reference, status, version, service, area, claimed_by, received_at, updated_at]
      properties:
        id:
          type: string
          format: uuid
        reference:
          type: string
        status:
          $ref: '#/components/schemas/Status'
        outcome:
          type: [string, 'null']
        version:
          type: integer
        service:
          type: object
        area:
          $ref: '#/components/schemas/Ref'
        claimed_by:
          $ref: '#/components/schemas/Ref'
        has_postbox:
          type: boolean
        received_at:
          type: string
          format: date-time
        updated_at:
          type: string
          format: date-time
    ApplicationSummary:
      type: object
      required: [id, reference, status, outcome, area_id, claimed_by, version]
      properties:
        id:
          type: string
          format: uuid
        reference:
          type: string
        status:
          $ref: '#/components/schemas/Status'
        outcome:
          type: [string, 'null']
          enum: [approved, rejected, done, null]
        area_id:
          type: [string, 'null']
          format: uuid
        claimed_by:
          type: [string, 'null']
          format: uuid
        version:
          type: integer
          minimum: 1
    ApplicationDetail:
      type: object
      required: [id, reference, status, version, service, applicant, form, attachments, timeline, messages, notes]
      properties:
        id:
          type: string
          format: uuid
        reference:
          type: string
        status:
          $ref: '#/components/schemas/Status'
        version:
          type: integer
        applicant:
          description: null once deleted after the retention period.
          type: [object, 'null']
        form:
          type: [object, 'null']
        payment:
          type: [object, 'null']
        postbox:
          type: [object, 'null']
        attachments:
          type: array
          items:
            type: object
        timeline:
          type: array
          items:
            type: object
        messages:
          type: array
          items:
            type: object
            required: [id, direction, kind, delivery_state]
            properties:
              id:
                type: string
                format: uuid
              direction:
                type: string
                enum: [outbound, inbound]
              kind:
                type: string
              delivery_state:
                type: [string, 'null']
                enum: [queued, delivered, failed, null]
              failure_reason:
                type: [string, 'null']
        notes:
          type: array
          items:
            type: object
    ServiceInput:
      type: object
      properties:
        key:
          type: string
          pattern: '^[a-z0-9][a-z0-9._-]{0,63}$'
        name:
          type: string
          minLength: 1
          maxLength: 200
        leika_key:
          type: string
          pattern: '^[0-9]{14}$'
        active:
          type: boolean
        document_trust_level:
          $ref: '#/components/schemas/TrustLevel'
        retention_days:
          type: integer
          minimum: 1
          maximum: 36500
    AreaInput:
      type: object
      properties:
        name:
          type: string
          minLength: 1
          maxLength: 200
        service_id:
          type: string
          format: uuid
        active:
          type: boolean
        member_ids:
          type: array
          items:
            type: string
            format: uuid
    CaseworkerInput:
      type: object
      properties:
        name:
          type: string
          minLength: 1
          maxLength: 200
        email:
          type: string
          maxLength: 254
        roles:
          type: array
          minItems: 1
          items:
            type: string
            enum: [caseworker, admin]
        email_notifications:
          type: boolean
        active:
          type: boolean
    Problem:
      type: object
      required: [type, title, status, code, request_id]
      properties:
        type:
          type: string
        title:
          type: string
        status:
          type: integer
        detail:
          type: string
        code:
          type: string
        request_id:
          type: string
        current_state:
          type: string
        holder_id:
          type: string
        holder_name:
          type: string
        errors:
          type: array
          items:
            type: object
            required: [field, code, message]
            properties:
              field:
                type: string
              code:
                type: string
              message:
                type: string
"""#
}
