// Package infratest checks gcpconn's deployment offline: the deploy manifest infra/functions.json
// against the entry points the module root registers and the variables functions/app reads, and
// what each reader does with it (the Terraform in infra/, scripts/deploy.sh and cloudbuild.yaml,
// which runs deploy.sh), plus .gcloudignore.
//
// Google's Terraform provider cannot be downloaded on our machines, so nothing here plans or
// applies. Instead the package reads the deployment the way a reviewer would:
//
//   - A Module is the Terraform in a directory, parsed with hclsyntax and evaluated with the
//     variables' defaults. A reference to something only Google knows (a resource attribute
//     such as google_service_account.runtime.email) evaluates to the placeholder
//     "${google_service_account.runtime.email}", so a test can see which resource feeds which
//     setting without a provider.
//   - Registered lists the functions entrypoints.go registers (functions.HTTP and
//     functions.CloudEvent calls): the names every deployment must deploy.
//   - SplitCommands turns shell text (the --dry-run plan of scripts/deploy.sh, a Cloud Build
//     script) into gcloud argument lists; Flags reads their --flag=value pairs.
//   - An Ignore is a parsed .gcloudignore: it answers whether a path is left out of the upload.
//
// The tests themselves are in the _test.go files; scripts/test.sh runs them with everything else.
package infratest
