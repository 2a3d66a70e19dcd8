package main

import (
	"testing"

	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
