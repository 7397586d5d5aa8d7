package stellar

// Passphrases of the SDF-run networks. They are part of every signed
// transaction hash, so they must match byte for byte.
const (
	MainnetPassphrase   = "Public Global Stellar Network ; September 2015"
	TestnetPassphrase   = "Test SDF Network ; September 2015"
	FuturenetPassphrase = "Test SDF Future Network ; October 2022"
)

// Names accepted by LookupNetwork.
const (
	NetworkMainnet   = "Mainnet"
	NetworkTestnet   = "Testnet"
	NetworkFuturenet = "Futurenet"
)

// Network describes a Stellar network well enough to configure core, Horizon
// and RPC against it.
type Network struct {
	// Name is "Mainnet", "Testnet", "Futurenet" or a user-chosen name.
	Name       string
	Passphrase string
	// HistoryArchiveURLs are the SDF archives Horizon and RPC read from
	// (their HISTORY_ARCHIVE_URLS). The schemes follow the Go SDK: https for
	// pubnet and testnet, plain http for futurenet.
	HistoryArchiveURLs []string
	// SDKName is the value Horizon's and RPC's NETWORK setting accepts
	// ("pubnet", "testnet", "futurenet"); empty for custom networks, which
	// must be configured with an explicit passphrase and archives instead.
	SDKName string
	// Quorum is the default quorum set: every validator quickstart trusts for
	// that network, which is what a watcher without opinions should follow.
	Quorum QuorumSet
}

// LookupNetwork returns a fresh copy of a well-known network. The match is
// exact ("Testnet", not "testnet") so that a CRD enum and this table cannot
// silently disagree about spelling.
func LookupNetwork(name string) (Network, bool) {
	switch name {
	case NetworkMainnet:
		return mainnet(), true
	case NetworkTestnet:
		return testnet(), true
	case NetworkFuturenet:
		return futurenet(), true
	}
	return Network{}, false
}

// KnownNetworks returns fresh copies of all well-known networks, Mainnet
// first. Callers may mutate the result; the tables are rebuilt on every call
// because sharing slices would let one caller's edit leak into another's
// quorum set.
func KnownNetworks() []Network {
	return []Network{mainnet(), testnet(), futurenet()}
}

func intPtr(i int) *int { return &i }

// The validator tables below are from stellar/quickstart @40709d95
// (2026-08-20), */core/etc/stellar-core.cfg. Validator sets change over time
// (organisations join and leave), so these are defaults, not truth: the CRDs
// let users replace them.

func mainnet() Network {
	const sdf = "http://history.stellar.org/prd/core-live/core_live_00"
	return Network{
		Name:       NetworkMainnet,
		Passphrase: MainnetPassphrase,
		HistoryArchiveURLs: []string{
			"https://history.stellar.org/prd/core-live/core_live_001/",
			"https://history.stellar.org/prd/core-live/core_live_002/",
			"https://history.stellar.org/prd/core-live/core_live_003/",
		},
		SDKName: "pubnet",
		Quorum: QuorumSet{
			HomeDomains: []HomeDomain{
				{Domain: "lobstr.co", Quality: QualityHigh},
				{Domain: "publicnode.org", Quality: QualityHigh},
				{Domain: "stellar.blockdaemon.com", Quality: QualityHigh},
				{Domain: "stellar.creit.tech", Quality: QualityHigh},
				{Domain: "stellar.withobsrvr.com", Quality: QualityHigh},
				{Domain: "www.franklintempleton.com", Quality: QualityHigh},
				{Domain: "www.stellar.org", Quality: QualityHigh},
			},
			Validators: []Validator{
				{Name: "LOBSTR 1 (Europe)", HomeDomain: "lobstr.co", PublicKey: "GCFONE23AB7Y6C5YZOMKUKGETPIAJA4QOYLS5VNS4JHBGKRZCPYHDLW7", Address: "v1.stellar.lobstr.co:11625", History: "https://archive.v1.stellar.lobstr.co"},
				{Name: "LOBSTR 2 (Europe)", HomeDomain: "lobstr.co", PublicKey: "GCB2VSADESRV2DDTIVTFLBDI562K6KE3KMKILBHUHUWFXCUBHGQDI7VL", Address: "v2.stellar.lobstr.co:11625", History: "https://archive.v2.stellar.lobstr.co"},
				{Name: "LOBSTR 5 (India)", HomeDomain: "lobstr.co", PublicKey: "GA5STBMV6QDXFDGD62MEHLLHZTPDI77U3PFOD2SELU5RJDHQWBR5NNK7", Address: "v5.stellar.lobstr.co:11625", History: "https://archive.v5.stellar.lobstr.co"},
				{Name: "Boötes", HomeDomain: "publicnode.org", PublicKey: "GCVJ4Z6TI6Z2SOGENSPXDQ2U4RKH3CNQKYUHNSSPYFPNWTLGS6EBH7I2", Address: "bootes.publicnode.org:11625", History: "https://bootes-history.publicnode.org"},
				{Name: "Hercules", HomeDomain: "publicnode.org", PublicKey: "GBLJNN3AVZZPG2FYAYTYQKECNWTQYYUUY2KVFN2OUKZKBULXIXBZ4FCT", Address: "hercules.publicnode.org:11625", History: "https://hercules-history.publicnode.org"},
				{Name: "Lyra", HomeDomain: "publicnode.org", PublicKey: "GCIXVKNFPKWVMKJKVK2V4NK7D4TC6W3BUMXSIJ365QUAXWBRPPJXIR2Z", Address: "lyra.publicnode.org:11625", History: "https://lyra-history.publicnode.org"},
				{Name: "Blockdaemon Validator 1", HomeDomain: "stellar.blockdaemon.com", PublicKey: "GAAV2GCVFLNN522ORUYFV33E76VPC22E72S75AQ6MBR5V45Z5DWVPWEU", Address: "stellar-full-validator1.bdnodes.net:11625", History: "https://stellar-full-history1.bdnodes.net"},
				{Name: "Blockdaemon Validator 2", HomeDomain: "stellar.blockdaemon.com", PublicKey: "GAVXB7SBJRYHSG6KSQHY74N7JAFRL4PFVZCNWW2ARI6ZEKNBJSMSKW7C", Address: "stellar-full-validator2.bdnodes.net:11625", History: "https://stellar-full-history2.bdnodes.net"},
				{Name: "Blockdaemon Validator 3", HomeDomain: "stellar.blockdaemon.com", PublicKey: "GAYXZ4PZ7P6QOX7EBHPIZXNWY4KCOBYWJCA4WKWRKC7XIUS3UJPT6EZ4", Address: "stellar-full-validator3.bdnodes.net:11625", History: "https://stellar-full-history3.bdnodes.net"},
				{Name: "Alpha Node Validator", HomeDomain: "stellar.creit.tech", PublicKey: "GBPLJDBFZO2H7QQH7YFCH3HFT6EMC42Z2DNJ2QFROCKETAPY54V4DCZD", Address: "alpha.validator.stellar.creit.tech:11625", History: "https://alpha-history.validator.stellar.creit.tech"},
				{Name: "Beta Node Validator", HomeDomain: "stellar.creit.tech", PublicKey: "GDDANSYOYSY5EPSFHBRPCLX6XMHPPLIMHVIDXG6IPQLVVLRI2BN4HMH3", Address: "beta.validator.stellar.creit.tech:11625", History: "https://beta-history.validator.stellar.creit.tech"},
				{Name: "Gamma Node Validator", HomeDomain: "stellar.creit.tech", PublicKey: "GBF7QOLFPTHUEDUPTT4ZTULDTA3QXDIO75JHKJN2IYD7YGQLYUTR75BT", Address: "gamma.validator.stellar.creit.tech:11625", History: "https://gamma-history.validator.stellar.creit.tech"},
				{Name: "OBSRVR Validator 1", HomeDomain: "stellar.withobsrvr.com", PublicKey: "GDRCZ4IPJR7V3HK4GR45CRTE72SDAOZUF2TDBQ5E5IGWC4KM5TSKU2LS", Address: "core-live-1.nodeswithobsrvr.co:11625", History: "https://history-1.nodeswithobsrvr.co/obsrvr-core-1"},
				{Name: "OBSRVR Validator 2", HomeDomain: "stellar.withobsrvr.com", PublicKey: "GA2PU4UGMLSFUXGZATHPTDXXX7FOHBAQC57RSJCQUN72WFKTD6CEPQSF", Address: "core-live-2.nodeswithobsrvr.co:11625", History: "https://history-2.nodeswithobsrvr.co/obsrvr-core-2"},
				{Name: "OBSRVR Validator 3", HomeDomain: "stellar.withobsrvr.com", PublicKey: "GACM6GIRMLXBBZIYJXBDTAEYZ2GJP3JJP5G5K4WDPBS6QFHPJNK6S2FB", Address: "core-live-3.nodeswithobsrvr.co:11625", History: "https://history-3.nodeswithobsrvr.co/obsrvr-core-3"},
				{Name: "FT SCV 1", HomeDomain: "www.franklintempleton.com", PublicKey: "GARYGQ5F2IJEBCZJCBNPWNWVDOFK7IBOHLJKKSG2TMHDQKEEC6P4PE4V", Address: "stellar1.franklintempleton.com:11625", History: "https://stellar-history1.franklintempleton.com/history1"},
				{Name: "FT SCV 2", HomeDomain: "www.franklintempleton.com", PublicKey: "GCMSM2VFZGRPTZKPH5OABHGH4F3AVS6XTNJXDGCZ3MKCOSUBH3FL6DOB", Address: "stellar2.franklintempleton.com:11625", History: "https://stellar-history2.franklintempleton.com/history2"},
				{Name: "FT SCV 3", HomeDomain: "www.franklintempleton.com", PublicKey: "GA7DV63PBUUWNUFAF4GAZVXU2OZMYRATDLKTC7VTCG7AU4XUPN5VRX4A", Address: "stellar3.franklintempleton.com:11625", History: "https://stellar-history3.franklintempleton.com/history3"},
				{Name: "SDF 1", HomeDomain: "www.stellar.org", PublicKey: "GCGB2S2KGYARPVIA37HYZXVRM2YZUEXA6S33ZU5BUDC6THSB62LZSTYH", Address: "core-live-a.stellar.org:11625", History: sdf + "1"},
				{Name: "SDF 2", HomeDomain: "www.stellar.org", PublicKey: "GCM6QMP3DLRPTAZW2UZPCPX2LF3SXWXKPMP3GKFZBDSF3QZGV2G5QSTK", Address: "core-live-b.stellar.org:11625", History: sdf + "2"},
				{Name: "SDF 3", HomeDomain: "www.stellar.org", PublicKey: "GABMKJM6I25XI4K7U6XWMULOUQIQ27BCTMLS6BYYSOWKTBUXVRJSXHYQ", Address: "core-live-c.stellar.org:11625", History: sdf + "3"},
			},
		},
	}
}

// testnet and futurenet are run by SDF alone, so their quorum sets have one
// organisation and need UNSAFE_QUORUM=true. FAILURE_SAFETY is 0 for both, as
// in quickstart's futurenet config. Quickstart's testnet config says 1, which
// only works for watchers: once a validator adds itself as a second
// organisation, the node alone can block its own quorum set and core rejects
// any FAILURE_SAFETY above 0 ("FAILURE_SAFETY incompatible with QUORUM_SET").

func testnet() Network {
	const archive = "http://history.stellar.org/prd/core-testnet/core_testnet_00"
	return Network{
		Name:       NetworkTestnet,
		Passphrase: TestnetPassphrase,
		HistoryArchiveURLs: []string{
			"https://history.stellar.org/prd/core-testnet/core_testnet_001/",
			"https://history.stellar.org/prd/core-testnet/core_testnet_002/",
			"https://history.stellar.org/prd/core-testnet/core_testnet_003/",
		},
		SDKName: "testnet",
		Quorum: QuorumSet{
			HomeDomains: []HomeDomain{{Domain: "testnet.stellar.org", Quality: QualityHigh}},
			Validators: []Validator{
				{Name: "sdf_testnet_1", HomeDomain: "testnet.stellar.org", PublicKey: "GDKXE2OZMJIPOSLNA6N6F2BVCI3O777I2OOC4BV7VOYUEHYX7RTRYA7Y", Address: "core-testnet1.stellar.org", History: archive + "1"},
				{Name: "sdf_testnet_2", HomeDomain: "testnet.stellar.org", PublicKey: "GCUCJTIYXSOXKBSNFGNFWW5MUQ54HKRPGJUTQFJ5RQXZXNOLNXYDHRAP", Address: "core-testnet2.stellar.org", History: archive + "2"},
				{Name: "sdf_testnet_3", HomeDomain: "testnet.stellar.org", PublicKey: "GC2V2EFSXN6SQTWVYA5EPJPBWWIMSD2XQNKUOHGEKB535AQE2I6IXV2Z", Address: "core-testnet3.stellar.org", History: archive + "3"},
			},
			UnsafeQuorum:  true,
			FailureSafety: intPtr(0),
		},
	}
}

func futurenet() Network {
	const archive = "http://history.stellar.org/dev/core-futurenet/core_futurenet_00"
	return Network{
		Name:       NetworkFuturenet,
		Passphrase: FuturenetPassphrase,
		HistoryArchiveURLs: []string{
			"http://history.stellar.org/dev/core-futurenet/core_futurenet_001/",
			"http://history.stellar.org/dev/core-futurenet/core_futurenet_002/",
			"http://history.stellar.org/dev/core-futurenet/core_futurenet_003/",
		},
		SDKName: "futurenet",
		Quorum: QuorumSet{
			HomeDomains: []HomeDomain{{Domain: "futurenet.stellar.org", Quality: QualityMedium}},
			Validators: []Validator{
				{Name: "sdf_futurenet_1", HomeDomain: "futurenet.stellar.org", PublicKey: "GBRIF2N52GVN3EXBBICD5F4L5VUFXK6S6VOUCF6T2DWPLOLGWEPPYZTF", Address: "core-live-futurenet-a.stellar.org", History: archive + "1"},
				{Name: "sdf_futurenet_2", HomeDomain: "futurenet.stellar.org", PublicKey: "GAQM2MF22BYOGIF47RZ2523YK7ZL7Z3CIIX6CCPZBWWLE6KJTXMD4SLO", Address: "core-live-futurenet-b.stellar.org", History: archive + "2"},
				{Name: "sdf_futurenet_3", HomeDomain: "futurenet.stellar.org", PublicKey: "GC2HLBHG4Z7KV73OPKZD6EWXIXM5QOIZVKN5OS4V2HISDOJC3TUORLY4", Address: "core-live-futurenet-c.stellar.org", History: archive + "3"},
			},
			UnsafeQuorum:  true,
			FailureSafety: intPtr(0),
		},
	}
}
