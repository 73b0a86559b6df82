"""The cloud bridge: call distribution, media matching, persistence, the agents' portal.

So far it holds the reusable consumer of booth events; the ACD and the portal follow."""
