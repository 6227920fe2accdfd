// Command check proves that the franz-go packages kwire's interop programs use
// resolve and build; it prints franz-go's default client settings and exits.
package main

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	var admin *kadm.Client
	req := kmsg.NewPtrApiVersionsRequest()
	fmt.Printf("franz-go ok: admin client type %T, ApiVersions key %d, max version %d, default client id via %T\n",
		admin, req.Key(), req.MaxVersion(), kgo.ClientID("kwire"))
}
