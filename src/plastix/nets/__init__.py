"""Networks: pure functions over pytrees of arrays, returning traces of local quantities."""

from plastix.nets._lateral import Boltzmann as Boltzmann
from plastix.nets._lateral import Recurrent as Recurrent
from plastix.nets.joint import JointNetwork as JointNetwork
from plastix.nets._layers import Bernoulli as Bernoulli
from plastix.nets._layers import Deterministic as Deterministic
from plastix.nets._layers import Gaussian as Gaussian
from plastix.nets._layers import Layer as Layer
from plastix.nets._layers import LayerTrace as LayerTrace
from plastix.nets._layers import Softmax as Softmax
from plastix.nets._layers import glorot_init as glorot_init
from plastix.nets._network import ACTIVATIONS as ACTIVATIONS
from plastix.nets._network import GAUSSIAN_LINKS as GAUSSIAN_LINKS
from plastix.nets._network import HIDDEN_UNITS as HIDDEN_UNITS
from plastix.nets._network import OUTPUTS as OUTPUTS
from plastix.nets._network import Network as Network
from plastix.nets._network import Trace as Trace
from plastix.nets._network import deterministic_mlp as deterministic_mlp
from plastix.nets._network import stochastic_mlp as stochastic_mlp
