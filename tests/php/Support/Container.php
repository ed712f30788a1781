<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Psr\Container\ContainerInterface;

/**
 * The parts of Spiral's container the package relies on: autowired constructors and methods,
 * bindings and singletons whose resolver is a class name, an object, a closure or a
 * `[class, method]` pair (the form Bootloader::SINGLETONS uses; private methods included), and
 * `invoke([class, 'canServe'])` as Spiral 3.12+ kernels call it.
 */
final class Container implements ContainerInterface
{
    /** @var array<string, array{resolver: mixed, singleton: bool}> */
    private array $bindings = [];

    /** @var array<string, mixed> */
    private array $instances = [];

    public function __construct()
    {
        $this->instances[ContainerInterface::class] = $this;
        $this->instances[self::class] = $this;
    }

    public function bind(string $id, mixed $resolver): void
    {
        unset($this->instances[$id]);
        $this->bindings[$id] = ['resolver' => $resolver, 'singleton' => false];
    }

    public function bindSingleton(string $id, mixed $resolver): void
    {
        unset($this->instances[$id]);
        $this->bindings[$id] = ['resolver' => $resolver, 'singleton' => true];
    }

    public function get(string $id): mixed
    {
        if (\array_key_exists($id, $this->instances)) {
            return $this->instances[$id];
        }
        if (!isset($this->bindings[$id])) {
            return $this->make($id);
        }

        ['resolver' => $resolver, 'singleton' => $singleton] = $this->bindings[$id];
        $instance = match (true) {
            \is_string($resolver) => $this->make($resolver),
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
        return \array_key_exists($id, $this->instances) || isset($this->bindings[$id]) || \class_exists($id);
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

    private function make(string $class): object
    {
        if (!\class_exists($class)) {
            throw new \LogicException(\sprintf('Nothing is bound to %s and it is not a class', $class));
        }
        $reflection = new \ReflectionClass($class);
        $constructor = $reflection->getConstructor();

        return $constructor === null
            ? $reflection->newInstance()
            : $reflection->newInstanceArgs($this->arguments($constructor));
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
