package connector

import (
	"context"
	"fmt"

	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// A connector reaches the resources of its own project. Clusters and registries are named
// inside their project, so their ids carry the rule; a bucket's name is global, and only
// Google knows its project. bucketProject asks (Google.BucketProject) for every gcs-bucket
// id that verify checks and mint serves: a bucket of another project is refused, naming both projects; a bucket whose
// project could not be read is served with a warning that says so, rather than a claim that
// the check happened.

// bucketProject checks that the bucket of gcs-bucket id (canonical) belongs to g's project.
// It returns a warning when that could not be read, and ErrInvalid when it belongs to
// another project.
func (s *Service) bucketProject(ctx context.Context, g Grant, id string) (warning string, err error) {
	r, err := resourceid.Parse(resourceid.GCSBucket, id)
	if err != nil {
		return "", err
	}
	checked, err := s.Google.BucketProject(ctx, g, r.Name)
	if err != nil {
		return "", err
	}
	if !checked {
		return fmt.Sprintf("the project of bucket %q could not be read (the credentials lack storage.buckets.get on it, "+
			"or resourcemanager.projects.get on project %q), so gcpconn could not check that it belongs to the connector's project; "+
			"the bucket's own IAM still applies", r.Name, g.Connector.Config.ProjectID), nil
	}
	return "", nil
}
