"""Teams of stochastic units: every unit a REINFORCE agent under one global reward, with per-unit
rewards (Weight Maximization, UWM), coordinated exploration (MAP propagation, Boltzmann and
recurrent layers) and the straight-through and backprop baselines, on one-step tasks and in the
actor-critic runner. ``plastix.teams.family`` declares the family to the command line."""
