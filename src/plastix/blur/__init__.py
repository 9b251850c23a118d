"""BLUR — meta-learned bidirectional update rules (Sandler et al., ICML 2021): genome, networks, inner loop."""

from plastix.blur.genome import Genome as Genome
from plastix.blur.genome import backprop_genome as backprop_genome
from plastix.blur.genome import load_genome as load_genome
from plastix.blur.genome import random_genome as random_genome
from plastix.blur.genome import save_genome as save_genome
from plastix.blur.network import BlurNet as BlurNet
from plastix.blur.network import backprop_config as backprop_config
from plastix.blur.network import init_synapses as init_synapses
from plastix.blur.network import inner_step as inner_step
from plastix.blur.network import predict as predict
