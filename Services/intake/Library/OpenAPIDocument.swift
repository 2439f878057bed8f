/// The intake API's OpenAPI 3.1 document, served at `/openapi.yaml`. A copy of
/// `Services/intake/openapi.yaml` (a test keeps them equal; run `Services/intake/sync-openapi.sh`
/// after editing the YAML).
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: Amtsweg intake API
  version: 1.0.0
  summary: Form systems post citizens' applications to the municipal back office.
  description: |
    The intake service of Amtsweg accepts applications (Anträge) from form systems and portals.
    Each request is authenticated with an intake client key (`Authorization: Bearer amtsweg_ik_…`)
    that belongs to one tenant (Mandant) and optionally to some of its services. The tenant of
    an application is always the key's tenant.

    An accepted application is stored with its attachments, gets a human-readable reference
    (Vorgangsnummer, e.g. `ERK-2026-000123`) and is queued for routing to the responsible
    caseworkers, all in one transaction.

    Limits: request body 32 MiB (413 beyond); at most 20 attachments, each at most 10 MiB and
    together at most 25 MiB after base64 decoding; the `form` object at most 1 MiB as JSON and
    at most 32 levels deep. Attachment content types are limited to the allow-list in
    `Attachment.content_type`. File names are sanitised (path parts, control characters and
    `<>:"|?*` removed or replaced). A given `sha256` is checked against the decoded content.

    Optional members may be left out or sent as `null`; both mean absent.

    Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`, the
    `request_id`, and for validation errors one entry per offending field in `errors`. Nothing
    is stored for a rejected request.
servers:
  - url: http://localhost:8081
security:
  - intakeClientKey: []
paths:
  /v1/applications:
    post:
      operationId: submitApplication
      summary: Submit an application
      description: |
        With an `Idempotency-Key`, a repeated request with the same key and the same body
        answers the first response again (header `Idempotent-Replayed: true`); the same key with
        a different body is refused with 422 `idempotency-key-reused`. Keys are kept at least
        24 hours, per intake client.
      parameters:
        - name: Idempotency-Key
          in: header
          required: false
          schema:
            type: string
            minLength: 1
            maxLength: 255
            pattern: '^[!-~]+$'
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Submission'
      responses:
        '201':
          description: Accepted and stored; routing follows.
          headers:
            Location:
              description: The status resource of the new application.
              required: true
              schema:
                type: string
            Idempotent-Replayed:
              description: Present (`true`) when this is the stored answer to an earlier request with the same Idempotency-Key.
              schema:
                type: string
                enum: ['true']
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Created'
          links:
            GetApplicationStatus:
              operationId: getApplicationStatus
              parameters:
                id: '$response.body#/id'
            WithdrawApplication:
              operationId: withdrawApplication
              parameters:
                id: '$response.body#/id'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '409':
          $ref: '#/components/responses/Problem'
        '413':
          $ref: '#/components/responses/Problem'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          $ref: '#/components/responses/Problem'
  /v1/applications/{id}:
    get:
      operationId: getApplicationStatus
      summary: Status and public timeline of an application
      description: Only applications of the key's tenant; any other id is 404.
      parameters:
        - $ref: '#/components/parameters/ApplicationID'
      responses:
        '200':
          description: The application's status.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/ApplicationStatus'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/Problem'
  /v1/applications/{id}/withdraw:
    post:
      operationId: withdrawApplication
      summary: The applicant withdrew the application
      description: Allowed from every open state; a completed or withdrawn application answers 409 with `current_state`.
      parameters:
        - $ref: '#/components/parameters/ApplicationID'
      responses:
        '200':
          description: Withdrawn; the application's new status.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/ApplicationStatus'
        '401':
          $ref: '#/components/responses/Unauthorized'
        '404':
          $ref: '#/components/responses/Problem'
        '409':
          $ref: '#/components/responses/Problem'
        '413':
          $ref: '#/components/responses/Problem'
  /openapi.yaml:
    get:
      operationId: getOpenAPIDocument
      summary: This document
      security: []
      responses:
        '200':
          description: The OpenAPI document.
          content:
            application/yaml:
              schema:
                type: string
components:
  securitySchemes:
    intakeClientKey:
      type: http
      scheme: bearer
      description: An intake client key issued with `amtsweg intake-client create` (shown once, stored only as a hash).
  parameters:
    ApplicationID:
      name: id
      in: path
      required: true
      schema:
        type: string
        format: uuid
  responses:
    Problem:
      description: A problem detail.
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
    Unauthorized:
      description: Missing, unknown or revoked intake client key.
      headers:
        WWW-Authenticate:
          required: true
          schema:
            type: string
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
  schemas:
    Submission:
      type: object
      required: [service, applicant, form]
      properties:
        service:
          type: string
          description: Key of the tenant's service (Online-Dienst), e.g. `parking`. An unknown or inactive service, or one the key may not post to, is a 422 naming `service`.
          pattern: '^[a-z0-9][a-z0-9._-]{0,63}$'
          examples: [parking]
        applicant:
          $ref: '#/components/schemas/Applicant'
        form:
          type: object
          description: The form's data, any JSON object (at most 1 MiB as JSON, 32 levels deep).
        attachments:
          type: [array, 'null']
          maxItems: 20
          items:
            $ref: '#/components/schemas/Attachment'
        payment:
          oneOf:
            - $ref: '#/components/schemas/Payment'
            - type: 'null'
        submitted_at:
          type: [string, 'null']
          format: date-time
          description: When the applicant submitted the form (RFC 3339); defaults to the time of receipt. Not in the future.
    Applicant:
      type: object
      required: [name]
      properties:
        name:
          type: string
          minLength: 1
          maxLength: 300
        email:
          type: [string, 'null']
          format: email
          maxLength: 254
        address:
          type: [object, 'null']
          properties:
            street:
              type: [string, 'null']
              maxLength: 200
            postal_code:
              type: [string, 'null']
              pattern: '^[0-9]{5}$'
            city:
              type: [string, 'null']
              maxLength: 200
            municipality_key:
              type: [string, 'null']
              description: Amtlicher Gemeindeschlüssel (AGS), 8 digits; used for routing.
              pattern: '^[0-9]{8}$'
        postbox:
          oneOf:
            - $ref: '#/components/schemas/Postbox'
            - type: 'null'
    Postbox:
      type: object
      description: The applicant's citizen postbox (Servicekonto / BundID) for the back channel.
      required: [mailbox_id, trust_level]
      properties:
        mailbox_id:
          type: string
          format: uuid
        trust_level:
          type: string
          enum: [basic, substantial, high]
        document_consent:
          type: [boolean, 'null']
          default: false
          description: The applicant agreed to receive documents over the back channel.
    Attachment:
      type: object
      required: [filename, content_type, content_base64]
      properties:
        filename:
          type: string
          description: Sanitised on receipt; at most 255 bytes are kept.
        content_type:
          type: string
          enum:
            - application/pdf
            - image/jpeg
            - image/png
            - image/tiff
            - image/gif
            - image/webp
            - image/heic
            - text/plain
            - text/csv
            - text/xml
            - application/xml
            - application/json
            - application/vnd.oasis.opendocument.text
            - application/vnd.oasis.opendocument.spreadsheet
            - application/vnd.openxmlformats-officedocument.wordprocessingml.document
            - application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
            - application/msword
            - application/vnd.ms-excel
        content_base64:
          type: string
          description: The content in standard base64 with padding (RFC 4648 §4); at most 10 MiB decoded.
          contentEncoding: base64
        sha256:
          type: [string, 'null']
          description: Optional SHA-256 of the decoded content, hex; verified.
          pattern: '^[0-9a-fA-F]{64}$'
    Payment:
      type: object
      required: [provider, transaction_id, amount_cents, status]
      properties:
        provider:
          type: string
          minLength: 1
          maxLength: 100
        transaction_id:
          type: string
          minLength: 1
          maxLength: 200
        amount_cents:
          type: integer
          minimum: 0
          maximum: 10000000000
        status:
          type: string
          minLength: 1
          maxLength: 50
    Created:
      type: object
      required: [id, reference, status]
      additionalProperties: false
      properties:
        id:
          type: string
          format: uuid
        reference:
          type: string
          description: Vorgangsnummer, unique per tenant.
          pattern: '^[A-Z][A-Z0-9]{1,9}-[0-9]{4}-[0-9]{6,}$'
        status:
          type: string
          const: received
    ApplicationStatus:
      type: object
      required: [id, reference, service, status, postbox_status, submitted_at, received_at, updated_at, timeline]
      properties:
        id:
          type: string
          format: uuid
        reference:
          type: string
        service:
          type: string
        status:
          $ref: '#/components/schemas/Status'
        outcome:
          type: string
          enum: [approved, rejected, done]
          description: Only when completed.
        postbox_status:
          type: string
          enum: [RECEIVED, PROCESSING, ACTION_REQUIRED, COMPLETED]
          description: The status as the BundID postbox shows it.
        submitted_at:
          type: string
          format: date-time
        received_at:
          type: string
          format: date-time
        updated_at:
          type: string
          format: date-time
        timeline:
          type: array
          description: Public events only (no caseworker names, no internal notes).
          items:
            type: object
            required: [kind, at]
            properties:
              kind:
                type: string
              status:
                $ref: '#/components/schemas/Status'
              at:
                type: string
                format: date-time
    Status:
      type: string
      enum: [received, assigned, in_progress, awaiting_applicant, completed, withdrawn, unroutable]
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
