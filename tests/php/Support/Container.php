<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Psr\Container\ContainerInterface;
use Spiral\Core\Attribute\Singleton;
use Spiral\Core\BinderInterface;

/**
 * The parts of Spiral's container the package relies on, with Spiral's rules:
 *
 * - it is its own ContainerInterface and BinderInterface, for autowired bootloader methods;
 * - a resolver is a class name or alias (a string: another binding, or the class to build when it
 *   names itself), an object (shared as it is), a closure or a `[class, method]` pair (the form
 *   Bootloader::SINGLETONS uses; private methods included), the last two called with autowired
 *   arguments;
 * - an unbound class is autowired, once for good when it is marked #[Spiral\Core\Attribute\Singleton];
 *   an unbound interface, or a class whose constructor needs something unresolvable, is an error
 *   naming it;
 * - `has()` is true only for what is bound, not for any class that exists;
 * - rebinding a singleton that was already resolved is an error (Spiral 3.8+ throws
 *   SingletonOverloadException), so a test sees a binding made too late;
 * - `invoke([class, 'canServe'])` as Spiral 3.12+ kernels call it.
 */
final class Container implements ContainerInterface, BinderInterface
{
    /** @var array<string, array{resolver: mixed, singleton: bool}> */
    private array $bindings = [];

    /** @var array<string, mixed> resolved singletons, and the container under its own names */
    private array $instances = [];

    public function __construct()
    {
        $this->instances[ContainerInterface::class] = $this;
        $this->instances[BinderInterface::class] = $this;
        $this->instances[self::class] = $this;
    }

    public function bind(string $alias, string|array|callable|object $resolver): void
    {
        $this->define($alias, $resolver, false);
    }

    public function bindSingleton(string $alias, string|array|callable|object $resolver): void
    {
        $this->define($alias, $resolver, true);
    }

    public function hasInstance(string $alias): bool
    {
        return \array_key_exists($alias, $this->instances);
    }

    public function removeBinding(string $alias): void
    {
        unset($this->bindings[$alias], $this->instances[$alias]);
    }

    public function bindInjector(string $class, string $injector): void
    {
        throw new \LogicException('The test container has no injectors');
    }

    public function removeInjector(string $class): void
    {
        throw new \LogicException('The test container has no injectors');
    }

    public function hasInjector(string $class): bool
    {
        return false;
    }

    /**
     * The resolver bound to $id, as it was given to bind() or bindSingleton(); null when nothing is.
     * For asserting that a binding was left alone.
     */
    public function binding(string $id): mixed
    {
        return $this->bindings[$id]['resolver'] ?? null;
    }

    public function get(string $id): mixed
    {
        if (\array_key_exists($id, $this->instances)) {
            return $this->instances[$id];
        }
        if (!isset($this->bindings[$id])) {
            $instance = $this->make($id);
            if ((new \ReflectionClass($instance))->getAttributes(Singleton::class) !== []) {
                $this->instances[$id] = $instance;
            }

            return $instance;
        }

        ['resolver' => $resolver, 'singleton' => $singleton] = $this->bindings[$id];
        $instance = match (true) {
            \is_string($resolver) => $resolver === $id ? $this->make($id) : $this->get($resolver),
            \is_array($resolver), $resolver instanceof \Closure => $this->invoke($resolver),
            default => $resolver,
        };
        if ($singleton) {
            $this->instances[$id] = $instance;
        }

        return $instance;
    }

    public function has(string $id): bool
    {
        return \array_key_exists($id, $this->instances) || isset($this->bindings[$id]);
    }

    /**
     * @param \Closure|array{0: object|class-string, 1: string} $target
     */
    public function invoke(\Closure|array $target): mixed
    {
        if ($target instanceof \Closure) {
            $function = new \ReflectionFunction($target);

            return $function->invokeArgs($this->arguments($function));
        }

        [$objectOrClass, $name] = $target;
        $method = new \ReflectionMethod($objectOrClass, $name);
        $object = match (true) {
            $method->isStatic() => null,
            \is_string($objectOrClass) => $this->get($objectOrClass),
            default => $objectOrClass,
        };

        return $method->invokeArgs($object, $this->arguments($method));
    }

    private function define(string $alias, mixed $resolver, bool $singleton): void
    {
        if (\array_key_exists($alias, $this->instances)) {
            throw new \LogicException(\sprintf("Can't overload the singleton `%s` because it's already used.", $alias));
        }
        $this->bindings[$alias] = ['resolver' => $resolver, 'singleton' => $singleton];
    }

    private function make(string $class): object
    {
        if (!\class_exists($class) || !(new \ReflectionClass($class))->isInstantiable()) {
            throw new \LogicException(\sprintf("Can't resolve `%s`: nothing is bound to it, not a class", $class));
        }
        $reflection = new \ReflectionClass($class);
        $constructor = $reflection->getConstructor();
        if ($constructor === null) {
            return $reflection->newInstance();
        }

        try {
            $arguments = $this->arguments($constructor);
        } catch (\LogicException $e) {
            throw new \LogicException(\sprintf("Can't resolve `%s`: %s", $class, $e->getMessage()), 0, $e);
        }

        return $reflection->newInstanceArgs($arguments);
    }

    /**
     * @return list<mixed>
     */
    private function arguments(\ReflectionFunctionAbstract $function): array
    {
        $arguments = [];
        foreach ($function->getParameters() as $parameter) {
            $type = $parameter->getType();
            if ($type instanceof \ReflectionNamedType && !$type->isBuiltin()) {
                $arguments[] = $this->get($type->getName());
            } elseif ($parameter->isDefaultValueAvailable()) {
                $arguments[] = $parameter->getDefaultValue();
            } else {
                throw new \LogicException(\sprintf(
                    'Cannot autowire $%s of %s',
                    $parameter->getName(),
                    $function->getName(),
                ));
            }
        }

        return $arguments;
    }
}
