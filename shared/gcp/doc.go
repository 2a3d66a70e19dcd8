// Package gcp is gcpconn's adapter to Google Cloud: it implements [connector.Google] with the
// official Go clients, pointed at the endpoints of an [Endpoints] value (real Google in
// production, the fake in emulator/ locally).
//
// # Vocabulary
//
// A credential source turns a connector's stored secrets into a Google access token, one per
// auth method: a service-account key signs a JWT-bearer assertion for the OAuth2 token
// endpoint; a user-account refresh token is redeemed there; an external-account config
// exchanges the caller's subject token at STS (then impersonates a service account when the
// config names one); an oauth2-token is handed out as stored; impersonation calls IAM
// Credentials generateAccessToken from a key or from the service's own identity; implicit is
// the service's own identity (the metadata server).
//
// Credential JSON is untrusted: it is loaded with the core's typed loaders
// ([connector.Secrets.ServiceAccountKey], AuthorizedUser, ExternalAccount), which hold it to
// the registration rules, and no URL in it is ever called. Every request goes to an endpoint
// of [Endpoints].
//
// Down-scoping exchanges an access token at STS for one limited by a Credential Access
// Boundary: a list of rules naming a bucket, the roles available on it and an optional
// condition (an object-name prefix).
//
// Listing finds the resources of one type that a connector's credentials reach, and proves
// the access: a project with testIamPermissions, buckets with buckets.list (one bucket with
// its testPermissions), GKE clusters in every location, and Docker repositories of Artifact
// Registry in every location.
//
// Upstream errors become [connector.Error] values of the upstream kinds: denied (401/403,
// Google's message passed through), not found (404), unavailable (429/5xx, with the
// Retry-After hint). Only what Google documents as safe is retried, at most three times and
// inside the caller's deadline: idempotent reads and token grants on 500/503/504, and Cloud
// Storage reads also on 429 (its retry strategy lists it). Otherwise a 429 goes back to the
// caller with its Retry-After.
package gcp
