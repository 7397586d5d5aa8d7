package controller

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

func sessionState(node, peer, vrf, bgp, bfd string) unstructured.Unstructured {
	u := NewBGPSessionState()
	status := map[string]any{"node": node, "peer": peer, "bgpStatus": bgp, "bfdStatus": bfd}
	if vrf != "" {
		status["vrf"] = vrf
	}
	u.Object["status"] = status
	return *u
}

func TestSessionsOfSkipsStatesBeingCreated(t *testing.T) {
	empty := NewBGPSessionState()
	got := sessionsOf([]unstructured.Unstructured{sessionState("n1", "198.51.100.1", "", "Established", "Up"), *empty})
	want := []bgpSession{{Node: "n1", Peer: "198.51.100.1", BGP: "Established", BFD: "Up"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sessionsOf = %+v, want %+v", got, want)
	}
}

func TestWithSessions(t *testing.T) {
	const router = "198.51.100.1"
	announcing := stellarv1.PeerStatus{Name: "stellar-peer-198-51-100-1", Address: router, ASN: 64513, SessionState: "Announcing", Nodes: []string{"n1"}}
	cases := []struct {
		name      string
		sessions  []bgpSession
		wantState string
		wantNodes []string
	}{
		{
			name:      "an announcing node with an Established session keeps Announcing",
			sessions:  []bgpSession{{Node: "n1", Peer: router, BGP: "Established", BFD: "Up"}},
			wantState: "Announcing", wantNodes: []string{"n1"},
		},
		{
			name:      "an announcing node whose session is Active says Active, not Announcing",
			sessions:  []bgpSession{{Node: "n1", Peer: router, BGP: "Active", BFD: "N/A"}},
			wantState: "Active", wantNodes: []string{"n1"},
		},
		{
			name:      "another node's Established session does not make this node's announcement real",
			sessions:  []bgpSession{{Node: "n2", Peer: router, BGP: "Established"}, {Node: "n1", Peer: router, BGP: "Connect"}},
			wantState: "Connect", wantNodes: []string{"n1", "n2"},
		},
		{
			name:      "sessions to other routers and in other VRFs are not this peer's",
			sessions:  []bgpSession{{Node: "n1", Peer: "198.51.100.5", BGP: "Established"}, {Node: "n1", Peer: router, VRF: "red", BGP: "Established"}},
			wantState: "Unknown", wantNodes: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := withSessions([]stellarv1.PeerStatus{announcing}, tc.sessions)[0]
			if got.SessionState != tc.wantState {
				t.Errorf("sessionState = %q, want %q", got.SessionState, tc.wantState)
			}
			var nodes []string
			for _, s := range got.Sessions {
				nodes = append(nodes, s.Node)
			}
			if !reflect.DeepEqual(nodes, tc.wantNodes) {
				t.Errorf("session nodes = %v, want %v (sorted)", nodes, tc.wantNodes)
			}
		})
	}
}

func TestPeersCondition(t *testing.T) {
	const router = "198.51.100.1"
	peer := func(sessions ...stellarv1.PeerSessionStatus) []stellarv1.PeerStatus {
		return []stellarv1.PeerStatus{{Address: router, ASN: 64513, Sessions: sessions}}
	}
	cases := []struct {
		name        string
		peers       []stellarv1.PeerStatus
		passwords   map[string]bool
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		{
			name:       "every session Established with BFD up is True",
			peers:      peer(stellarv1.PeerSessionStatus{Node: "n1", BGPState: "Established", BFDState: "Up"}),
			wantStatus: metav1.ConditionTrue, wantReason: stellarv1.ReasonPeersEstablished, wantMessage: "1 session(s) Established",
		},
		{
			name:       "an Established session without BFD (N/A) is True",
			peers:      peer(stellarv1.PeerSessionStatus{Node: "n1", BGPState: "Established", BFDState: "N/A"}),
			wantStatus: metav1.ConditionTrue, wantReason: stellarv1.ReasonPeersEstablished,
		},
		{
			name:       "an Established session whose BFD is down is BFDDown",
			peers:      peer(stellarv1.PeerSessionStatus{Node: "n1", BGPState: "Established", BFDState: "Down"}),
			wantStatus: metav1.ConditionFalse, wantReason: stellarv1.ReasonBFDDown, wantMessage: "BFD Down",
		},
		{
			name:       "an Active session with an MD5 password names the password",
			peers:      peer(stellarv1.PeerSessionStatus{Node: "n1", BGPState: "Active", BFDState: "Down"}),
			passwords:  map[string]bool{router: true},
			wantStatus: metav1.ConditionFalse, wantReason: stellarv1.ReasonPeerNotConnected, wantMessage: "MD5 password mismatch",
		},
		{
			name:       "an Active session without a password does not blame one",
			peers:      peer(stellarv1.PeerSessionStatus{Node: "n1", BGPState: "Connect"}),
			wantStatus: metav1.ConditionFalse, wantReason: stellarv1.ReasonPeerNotConnected, wantMessage: "is Connect: the router is unreachable",
		},
		{
			name:       "a session stuck in OpenSent points at the ASNs",
			peers:      peer(stellarv1.PeerSessionStatus{Node: "n1", BGPState: "OpenSent"}),
			wantStatus: metav1.ConditionFalse, wantReason: stellarv1.ReasonPeerOpenNotConfirmed, wantMessage: "must expect 64513",
		},
		{
			name:       "a peer without any session state is NoSessionState",
			peers:      peer(),
			wantStatus: metav1.ConditionFalse, wantReason: stellarv1.ReasonNoSessionState, wantMessage: "no session to 198.51.100.1",
		},
		{
			name: "the first failure gives the reason and every failure is in the message",
			peers: peer(stellarv1.PeerSessionStatus{Node: "n1", BGPState: "Established", BFDState: "Up"},
				stellarv1.PeerSessionStatus{Node: "n2", BGPState: "Idle"}, stellarv1.PeerSessionStatus{Node: "n3", BGPState: "OpenConfirm"}),
			wantStatus: metav1.ConditionFalse, wantReason: stellarv1.ReasonPeerNotConnected, wantMessage: "node n3: session to 198.51.100.1 is OpenConfirm",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := peersCondition(7, tc.peers, tc.passwords)
			if c.Type != stellarv1.ConditionPeersEstablished || c.ObservedGeneration != 7 {
				t.Errorf("condition %s generation %d", c.Type, c.ObservedGeneration)
			}
			if c.Status != tc.wantStatus || c.Reason != tc.wantReason || !strings.Contains(c.Message, tc.wantMessage) {
				t.Errorf("= %s/%s %q, want %s/%s containing %q", c.Status, c.Reason, c.Message, tc.wantStatus, tc.wantReason, tc.wantMessage)
			}
		})
	}
}
